"""SpotiFlow, the application: commands, the refresh job, serving, simulation and the warehouse."""
