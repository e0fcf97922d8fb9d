"""The demo world's simulators: the agencies' SFTP server and robot, the bank, the SMTP sink.

Modules: ``keys`` (key pairs, Airflow connection JSON), ``sftp_server`` (``AgencySftpServer``),
``agency`` / ``agency_robot`` (the agencies' answers), ``bank`` (bank files), ``mail_sink``
(``MailSink``, a local SMTP server keeping each mail as ``.eml``), ``serve`` / ``robot`` /
``bank_service`` (the long-running services; ``poll``: their loop, ``locking``: the locks they
share with the demo DAG), ``stack`` / ``compose`` (the local Airflow stack, the compose init).
"""
