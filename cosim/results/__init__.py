"""The run folder (results/<scenario>-<timestamp>/): its file names and readers (`folder`), its writer while
the run goes (`writer`) and its manifest (`manifest`). `load_run(path)` opens one."""

from cosim.results.folder import (
    DEFAULT_START_DATE,
    ERROR,
    KPIS,
    MANIFEST,
    PLANS,
    TABLES,
    TRACEBACKS,
    Run,
    RunFolder,
    compact_sessions,
    load_run,
)
from cosim.results.manifest import finish_manifest, git_commit, start_manifest, versions
from cosim.results.writer import RunWriter, new_run_dir

__all__ = ["DEFAULT_START_DATE", "ERROR", "KPIS", "MANIFEST", "PLANS", "TABLES", "TRACEBACKS", "Run", "RunFolder",
           "RunWriter",
           "compact_sessions", "finish_manifest", "git_commit", "load_run", "new_run_dir", "start_manifest",
           "versions"]
