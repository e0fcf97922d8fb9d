# The inkasso-airflow image: Apache Airflow 3.3.2 with the project's pinned dependencies, DAGs,
# plugins and include/ baked in. Nothing is pip-installed when a container starts.
#
#   docker build -t inkasso-airflow:local .
#
# requirements.txt + constraints.txt are the same files `make` installs from, so the image runs
# exactly the versions the tests ran (the Celery provider and the Redis client included).
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:root requirements.txt constraints.txt /opt/inkasso/
RUN pip install --no-cache-dir -r /opt/inkasso/requirements.txt -c /opt/inkasso/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

ENV PYTHONPATH=/opt/airflow/plugins \
    INKASSO_INCLUDE_DIR=/opt/airflow/include \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
