"""What a resolved file name says about the op that opens it: a remote URL, a secret, or neither.

A file op pointed at a URL of a remote file system (``gs://``, ``s3://``,
``http(s)://``, ``grpc://``, ``hdfs://``...) reaches the network, whatever
the op: a ``SaveV2`` to ``gs://`` sends the model's tensors away. A read of
a file that holds secrets (``/etc/passwd``, ``/etc/shadow``, SSH keys, a
process's environment, cloud credentials, ``.netrc``, keyrings, service
account tokens) is worse than a read of a data file. Both are decided on
the values and on the constant parts of computed values.
"""
from __future__ import annotations

import re

# URL schemes of file systems that are not on this machine (TensorFlow's own and tensorflow-io's).
REMOTE_SCHEMES = ("gs", "s3", "http", "https", "grpc", "grpcs", "hdfs", "viewfs", "har", "az", "abfs", "abfss",
                  "wasb", "wasbs", "oss", "ftp", "sftp", "ssh", "tcp", "udp", "ws", "wss")
_URL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")

# Files that hold secrets, wherever they are (a home folder, /root, a container's /run).
_SECRETS = re.compile(
    r"(^|/)etc/(passwd|shadow|gshadow|master\.passwd|sudoers)(/|$)"
    r"|(^|/)\.ssh(/|$)|(^|/)id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$|(^|/)authorized_keys$"
    r"|(^|/)proc/(self|thread-self|\d+)/(environ|cmdline|mem|maps|fd|auxv)(/|$)"
    r"|(^|/)\.aws/(credentials|config)$|(^|/)\.config/gcloud(/|$)|application_default_credentials\.json$"
    r"|(^|/)\.azure(/|$)|(^|/)\.kube/config$|(^|/)\.docker/config\.json$|(^|/)\.netrc$|(^|/)_netrc$"
    r"|(^|/)\.pgpass$|(^|/)\.git-credentials$|(^|/)\.gnupg(/|$)|(^|/)keyrings?(/|$)|(^|/)\.password-store(/|$)"
    r"|(^|/)(var/)?run/secrets(/|$)|(^|/)\.vault-token$|(^|/)\.npmrc$|(^|/)\.pypirc$",
    re.IGNORECASE)


def remote(value: str) -> str | None:
    """The scheme of ``value`` when it is a URL of a remote file system (``gs``), else None."""
    match = _URL.match(value)
    if match and match.group(1).lower() in REMOTE_SCHEMES:
        return match.group(1).lower()
    return None


def secret(value: str) -> bool:
    """Whether ``value`` names a file that holds secrets (``/etc/shadow``, ``~/.ssh/id_rsa``...)."""
    text = value.replace("\\", "/")
    if text.startswith("file://"):
        text = text[len("file://"):]
    return bool(_SECRETS.search(text))


def named(arguments: dict) -> list[str]:
    """Every value and constant part of a finding's resolved arguments, in order, once."""
    out = []
    for arg in arguments.values():
        for value in list(arg.get("values") or ()) + list(arg.get("parts") or ()):
            if value not in out:
                out.append(value)
    return out
