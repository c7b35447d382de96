"""SpotiFlow's own dashboard (Streamlit): reads the marts, never recomputes a metric."""
