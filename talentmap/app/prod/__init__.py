"""The production profile (issue 12): PostgreSQL, Redis and an authenticated MLflow server,
started on loopback by the project itself, with generated passwords.

One module per job: ``layout`` (where the profile keeps its files, its state and the two
files it hands to people), ``packages`` (Debian packages), ``postgres``, ``redis``,
``mlflow_server``, ``auth`` (MLflow users and permissions) and ``profile`` (``up``/``down``).
"""
