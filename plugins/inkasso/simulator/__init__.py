"""The agency simulator: an in-process SFTP server playing each agency, and its SSH keys.

Modules: ``keys`` (key pairs, Airflow connection JSON), ``sftp_server`` (``AgencySftpServer``).
"""
