"""One reader per source kind: each turns an input file into record tables and rejected rows."""
