"""Runs: ``tutelage run SPEC`` turns a TOML run spec into a run folder with models and a report.

- :mod:`~tutelage.runs.spec` loads and validates a spec (a file, or a packaged
  name such as ``driving``); everything is checked before anything is written.
- :mod:`~tutelage.runs.runner` makes ``runs/<name>-<UTC time>/``, runs each
  stage (a type contributed through the ``tutelage_stage_types`` hook), records
  progress in ``state.json`` and resumes after the last finished stage.
- :mod:`~tutelage.runs.context` is what a stage sees; :mod:`~tutelage.runs.schema`
  declares stage settings.
- :mod:`~tutelage.runs.summary`, :mod:`~tutelage.runs.plots` and
  :mod:`~tutelage.runs.report` write ``summary.json``, PNG plots and one
  self-contained ``report.html``.
- :mod:`~tutelage.runs.registry` is the SQLite lineage registry behind
  ``tutelage models`` and ``tutelage show``.
"""
