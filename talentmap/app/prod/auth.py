"""MLflow users and permissions from a config file (``users.json``): ``auth bootstrap``.

Each account has a role, and each role one MLflow permission on the experiments and the
registered model: auditor READ, data-team EDIT, admin MANAGE. The server gives a user
without a grant no permission at all (the profile's ``default_permission``).

The bootstrap signs in as the file's ``admin`` account, the server's administrator. It
creates the experiments and the registered model if they do not exist yet, so the grants
have something to name before the first training run. Re-running it is safe: existing
users get the file's password again, and grants are set to the role's permission.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from talentmap.app.prod.layout import ProfileError

ROLE_PERMISSIONS: dict[str, str] = {"auditor": "READ", "data-team": "EDIT", "admin": "MANAGE"}
USERNAME_VAR = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VAR = "MLFLOW_TRACKING_PASSWORD"


@dataclass(frozen=True)
class Grant:
    user: str
    resource_type: str  # "experiment" or "registered_model"
    resource: str  # the experiment's id, or the model's name
    permission: str


@contextlib.contextmanager
def signed_in(name: str, password: str) -> Iterator[None]:
    """MLflow's credential variables set to this account for the block, then restored."""
    previous = {var: os.environ.get(var) for var in (USERNAME_VAR, PASSWORD_VAR)}
    os.environ[USERNAME_VAR] = name
    os.environ[PASSWORD_VAR] = password
    try:
        yield
    finally:
        for var, value in previous.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _admin(users: Sequence[dict[str, str]]) -> dict[str, str]:
    admins = [user for user in users if user["role"] == "admin"]
    if not admins:
        raise ProfileError("the users file has no account with role 'admin' to sign in with")
    return admins[0]


def bootstrap(
    tracking_uri: str,
    users: Sequence[dict[str, str]],
    experiments: Sequence[str],
    registered_model: str,
) -> list[Grant]:
    """Create the users and grant each its role's permission; the grants made."""
    with warnings.catch_warnings():
        # MLflow's server package imports a Starlette module that warns it is deprecated
        # (a UserWarning, so the entry point's deprecation filter misses it).
        warnings.filterwarnings("ignore", message=r"starlette\.middleware\.wsgi is deprecated")
        import mlflow.server
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException, RestException

    from talentmap.training.tracking.target import ensure_experiment

    admin = _admin(users)
    grants: list[Grant] = []
    with signed_in(admin["name"], admin["password"]):
        auth = mlflow.server.get_app_client("basic-auth", tracking_uri=tracking_uri)
        client = MlflowClient(tracking_uri, tracking_uri)
        try:
            experiment_ids = [ensure_experiment(client, name, None) for name in experiments]
        except RestException as refused:
            raise ProfileError(
                f"cannot sign in to {tracking_uri} as {admin['name']!r}: {refused}"
            ) from refused
        try:
            client.get_registered_model(registered_model)
        except MlflowException:
            client.create_registered_model(
                registered_model, description="TalentMap's talent-promise model."
            )
        for user in users:
            try:
                auth.get_user(user["name"])
                if user["name"] != admin["name"]:
                    auth.update_user_password(user["name"], user["password"])
            except RestException:
                auth.create_user(user["name"], user["password"])
            permission = ROLE_PERMISSIONS[user["role"]]
            targets = [("experiment", eid) for eid in experiment_ids]
            targets.append(("registered_model", registered_model))
            for resource_type, resource in targets:
                try:
                    auth.grant_user_permission(user["name"], resource_type, resource, permission)
                except RestException as exists:
                    if exists.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    # A grant from an earlier bootstrap, or the creator's own: set it again.
                    auth.revoke_user_permission(user["name"], resource_type, resource)
                    auth.grant_user_permission(user["name"], resource_type, resource, permission)
                grants.append(Grant(user["name"], resource_type, resource, permission))
    return grants
