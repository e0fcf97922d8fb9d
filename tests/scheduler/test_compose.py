"""docker-compose.yaml and the Dockerfile against the project: the agency SFTP accounts have the
folders the agency profiles name, every automated agreement's connection is written with the
host key the init service made, the agency robot and the demo bank run as services on the
volumes the SFTP container and the workers use, and nothing is pip-installed when a container
starts."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text())


def _accounts(compose: dict) -> dict[str, list[str]]:
    """The agency-sftp service's accounts: login -> folders (atmoz/sftp user lines)."""
    lines = compose["services"]["agency-sftp"]["command"][2:]  # after the script and its $0
    out = {}
    for line in lines:
        login, _password, _uid, _gid, folders = line.split(":")
        out[login] = folders.split(",")
    return out


def test_sftp_accounts_have_the_profiles_remote_folders(compose):
    from inkasso.formats.profile import load_profile
    from inkasso_demo.erp.clients import CLIENTS

    accounts = _accounts(compose)
    automated = [c for c in CLIENTS if c.mode == "sftp"]
    assert set(accounts) == {c.agreement_id for c in automated}  # no account for manual export
    for c in automated:
        remote = load_profile(c.agency).remote
        wanted = {remote.upload_dir, remote.outbox_dir} | (
            {remote.processed_dir} if remote.processed_dir else set()
        )
        assert {"/" + f for f in accounts[c.agreement_id]} == wanted, c.agreement_id


def test_init_writes_each_agreements_connection_with_the_host_key_it_made(tmp_path, compose):
    from inkasso_demo.erp.clients import CLIENTS
    from inkasso_demo.simulator.compose import HOST_KEY, init

    first = json.loads(init(tmp_path).read_text())
    public = (tmp_path / (HOST_KEY + ".pub")).read_text().split()[:2]
    key_bytes = (tmp_path / HOST_KEY).read_bytes()
    again = json.loads(init(tmp_path).read_text())  # a restart keeps the same key
    assert (tmp_path / HOST_KEY).read_bytes() == key_bytes and again == first

    accounts = _accounts(compose)
    assert {"erp_db", "smtp_default"} <= set(first)
    for c in CLIENTS:
        conn_id = f"inkasso_sftp_{c.agreement_id}"
        if c.mode != "sftp":
            assert conn_id not in first
            continue
        conn = first[conn_id]
        assert conn["host"] in compose["services"]  # the compose service it reaches
        assert conn["login"] in accounts and conn["password"] == conn["login"]
        assert json.loads(conn["extra"])["host_key"].split() == public
    assert (
        json.loads(first["erp_db"]["extra"])["sqlalchemy_url"].split("@")[1].startswith("erp-db:")
    )
    assert json.loads(first["smtp_default"]["extra"])["disable_tls"] is True


def test_services_share_the_init_and_the_baked_image(compose):
    services = compose["services"]
    init = services["inkasso-init"]
    assert "compose" in " ".join(init["entrypoint"]) and "init" in init["entrypoint"]
    sftp = services["agency-sftp"]
    assert sftp["depends_on"]["inkasso-init"]["condition"] == "service_completed_successfully"
    assert "ssh_host_ed25519_key" in sftp["command"][0]
    airflow = [s for name, s in services.items() if name.startswith("airflow-")]
    assert {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"} <= {
        s.get("command") for s in airflow if isinstance(s.get("command"), str)
    }
    for s in airflow + [init]:
        assert s["build"] == "." and s["image"].startswith("${AIRFLOW_IMAGE_NAME")
        env = s.get("environment") or {}
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env
        assert "pip install" not in json.dumps(s)
        if s is not init:
            assert "connections.json" in env["AIRFLOW__SECRETS__BACKEND_KWARGS"]
            assert s["depends_on"]["inkasso-init"]["condition"] == (
                "service_completed_successfully"
            )
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def _mounts(service: dict) -> dict[str, str]:
    """A service's volume mounts: path in the container -> named volume."""
    out = {}
    for line in service.get("volumes", []):
        volume, path = line.split(":")[:2]
        out[path] = volume
    return out


def test_the_agency_robot_and_the_demo_bank_run_as_services_on_the_shared_volumes(compose):
    from inkasso_demo.simulator.compose import ERP_URL

    services = compose["services"]
    robot, bank, worker = (
        services["agency-robot"],
        services["demo-bank"],
        services["airflow-worker"],
    )
    assert "inkasso_demo.simulator.robot" in " ".join(robot["entrypoint"])
    assert bank["command"][:3] == ["python", "-m", "inkasso_demo.simulator.bank_service"]
    assert bank["command"][3:] == ["--clock", "wall"]  # nobody plays the demo ERP's days here
    for s in (robot, bank):
        assert s["build"] == "." and s["image"].startswith("${AIRFLOW_IMAGE_NAME")
        assert s["restart"] == "always"
        assert s["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        env = s["environment"]
        assert env["INKASSO_DEMO_ERP_URL"] == ERP_URL  # the ERP the DAGs' erp_db points at
        # the files base the workers read the bank drops and the manual exports from
        base = env["INKASSO_BASE"]
        assert _mounts(s)[base] == _mounts(worker)[base] == "inkasso-files"
    # the robot answers in the very folders the SFTP container serves
    sftp_home = {v: p for p, v in _mounts(services["agency-sftp"]).items()}["agency-sftp-home"]
    root = robot["environment"]["INKASSO_DEMO_SFTP_ROOT"]
    assert root == sftp_home and _mounts(robot)[root] == "agency-sftp-home"
    assert robot["user"] == "0:0" and "umask 0002" in " ".join(robot["entrypoint"])


def test_the_dockerfile_installs_the_pinned_requirements_at_build():
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2-python" in text
    assert "-r /opt/inkasso/requirements.txt -c /opt/inkasso/constraints.txt" in text
    assert "requirements.txt constraints.txt" in text
    reqs = (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("apache-airflow-providers-celery==") for r in reqs)
    constraints = (PROJECT_ROOT / "constraints.txt").read_text().splitlines()
    assert any(r.startswith("apache-airflow-providers-celery==") for r in constraints)


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not on this machine"
)
def test_docker_compose_config_is_valid():
    done = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yaml", "config", "-q"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
