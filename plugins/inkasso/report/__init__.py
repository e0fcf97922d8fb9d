"""The daily summary mail: gather (SQL per client and day), render (Jinja2), send (SMTP, mail log)."""
