"""inkasso_demo: the demo of inkasso-airflow, kept out of the production package ``inkasso``.

The demo day (``demo``, also ``python -m inkasso_demo``), the demo ERP generator (``erp``), the
agency, bank and SMTP simulators (``simulator``) and the printouts of a demo day (``views``).
Production code (``inkasso`` and the flow DAGs) imports nothing from here
(``tests/test_layout.py``), so a production deployment can leave this package out.
"""
