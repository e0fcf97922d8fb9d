"""The Inkasso view inside the Airflow UI: routes in ``app``, reads in ``queries``, writes in
``actions``, the token check in ``auth``."""

URL_PREFIX = "/inkasso"
