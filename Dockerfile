# The inkasso-airflow image: Apache Airflow 3.3.2 with the project's pinned dependencies, DAGs,
# plugins and include/ baked in. Nothing is pip-installed when a container starts.
#
#   docker build -t inkasso-airflow:local .
#
# requirements.txt + constraints.txt are the same files `make` installs from, so the image runs
# exactly the versions the tests ran (the Celery provider and the Redis client included).
# The demo (plugins/inkasso_demo/ and its DAG dags/inkasso_demo_day.py) is in the image by
# default because docker-compose.yaml is a demo: its inkasso-init and airflow-init run
# `python -m inkasso_demo.simulator.compose` and `python -m inkasso_demo.erp`. A production image
# leaves it out, not even in a lower layer:
#
#   docker build --build-arg INKASSO_DEMO=false -t inkasso-airflow:prod .
#
# Production code imports nothing from inkasso_demo (tests/test_layout.py).
FROM apache/airflow:3.3.2-python3.11 AS sources

USER root
ARG INKASSO_DEMO=true
COPY dags/ /src/dags/
COPY plugins/ /src/plugins/
RUN if [ "$INKASSO_DEMO" = "false" ]; then \
        rm -rf /src/plugins/inkasso_demo /src/dags/inkasso_demo_day.py; \
    fi

FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:root requirements.txt constraints.txt /opt/inkasso/
RUN pip install --no-cache-dir -r /opt/inkasso/requirements.txt -c /opt/inkasso/constraints.txt

COPY --from=sources --chown=airflow:root /src/dags/ /opt/airflow/dags/
COPY --from=sources --chown=airflow:root /src/plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

ENV PYTHONPATH=/opt/airflow/plugins \
    INKASSO_INCLUDE_DIR=/opt/airflow/include \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
