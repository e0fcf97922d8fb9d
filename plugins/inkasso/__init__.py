"""inkasso: the domain package of inkasso-airflow (rules, formats, transport).

Plain Python, testable without Airflow. The DAGs in ``dags/`` call it from tasks.
"""

from inkasso.masking import install_log_masking

# every record of the inkasso loggers has its national ids masked, whoever logs it
install_log_masking()
