"""inkasso: the domain package of inkasso-airflow (rules, formats, transport, simulator).

Plain Python, testable without Airflow. The DAGs in ``dags/`` call it from tasks.
"""
