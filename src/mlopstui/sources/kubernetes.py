"""The Kubernetes source: the pinned context's nodes, pods and node events; cordon/uncordon.

Feed "kubernetes" (jobs "nodes", "pods", "events", or one failing "kubeconfig" job when the
kubeconfig cannot be used); topics "kube" and "gpus". The context is pinned the first time
the session needs it (when sync starts, after the first frame): a kubeconfig changed later
never redirects a watch or a pending action. Opening reads no file and imports no client.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mlopstui.sources import Check, Source, SourceEnv, SourceInfo, StatusItem
from mlopstui.text import redact

if TYPE_CHECKING:
    from mlopstui.actions.pipeline import Executor
    from mlopstui.adapters.kubernetes import KubeSource
    from mlopstui.sync.scheduler import Job

NAME = "kubernetes"
NO_KUBECONFIG = "no kubeconfig: set KUBECONFIG, [kubernetes] kubeconfig, or pass --context"


class KubernetesSource(Source):
    """One pinned context of the kubeconfig in force."""

    name = NAME
    title = "Kubernetes"
    api_version = 1
    topics = frozenset({"kube", "gpus"})
    fetches = frozenset({"kube_contexts"})

    def __init__(self, env: SourceEnv) -> None:
        super().__init__(env)
        self.settings = env.settings
        self._client: KubeSource | None = None
        self._pinned = False
        self._pin_lock = threading.Lock()  # the UI thread and a worker may both ask first
        self.error: str | None = None
        """Why the kubeconfig cannot be used (None when it can, or before it was read)."""

    @property
    def client(self) -> KubeSource | None:
        """The session's client, its context pinned when first asked for (None when
        Kubernetes is off, no kubeconfig exists, or it is unusable: see `error`)."""
        with self._pin_lock:
            if not self._pinned:
                from mlopstui.sync import kubernetes as kube_sync

                try:
                    self._client = kube_sync.source_for(self.settings)
                except Exception as exc:  # SourceError, or a kubeconfig nobody expected
                    self.error = str(exc)
                self._pinned = True
        return self._client

    @property
    def context(self) -> str | None:
        """The pinned context (reads the kubeconfig on first use)."""
        client = self.client
        return client.context if client is not None else None

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        from mlopstui.sync import kubernetes as kube_sync

        client = self.client
        if client is None and self.error is None:
            return []
        return kube_sync.jobs(self.settings, self.env.writer, self.env.announce, source=client)

    def executors(self) -> list[Executor]:
        client = self.client
        if client is None:
            return []
        from mlopstui.actions import kubernetes as kube_actions

        # The same pinned client as the watches: a changed kubeconfig never redirects an action.
        label = _audit_label(client)  # credentials redacted, as in the audit log
        return list(kube_actions.executors(client, self.env.writer, lambda: label))

    def action_timeout(self) -> float:
        return self.settings.kubernetes.request_timeout * 2

    def read_only(self) -> bool:
        """Read-only switches, or a production context unless production writes are allowed."""
        return self.settings.context_read_only(self.context)

    def info(self) -> SourceInfo:
        client = self.client
        context = client.context if client is not None else None
        server = redact(client.server) if client is not None else ""
        return SourceInfo(
            NAME,
            context or "no context",
            audit_label=_audit_label(client),
            configured=client is not None,
            read_only=context is not None and self.settings.context_read_only(context),
            context=context,
            production=self.settings.is_production_context(context),
            error=self.error,
            details={"server": server},
        )

    def fetch(self, what: str, **kwargs: Any) -> Any:
        """The "kube_contexts" fetch: the kubeconfig's contexts (`contexts`), which of them are
        production (`production_contexts`) and why there are none (`contexts_error`)."""
        if what != "kube_contexts":
            return super().fetch(what, **kwargs)
        from mlopstui.adapters import SourceError
        from mlopstui.adapters.kubernetes import context_names, kubeconfig_paths

        paths = kubeconfig_paths(self.settings.kubernetes.kubeconfig)
        if not paths:
            return {"contexts": [], "production_contexts": [], "contexts_error": "No kubeconfig"}
        try:
            names = context_names(paths)
        except SourceError as exc:
            return {"contexts": [], "production_contexts": [], "contexts_error": str(exc)}
        return {
            "contexts": names,
            "production_contexts": [n for n in names if self.settings.is_production_context(n)],
            "contexts_error": None,
        }

    def status(self) -> list[StatusItem]:
        # The kubeconfig is read when sync starts (after the first frame), never for the bar.
        if not self._pinned or self._client is None:
            return []
        context = self._client.context
        production = self.settings.is_production_context(context)
        return [StatusItem(context, icon="⎈", danger=production)]

    def check(self) -> list[Check]:
        from mlopstui.adapters import SourceError
        from mlopstui.adapters.kubernetes import KubeForbidden

        k = self.settings.kubernetes
        if k.enabled is False:
            return [Check(NAME, None, "disabled ([kubernetes] enabled = false)")]
        client = self.client
        if client is None:
            if self.error:
                return [Check(NAME, False, self.error)]
            return [Check(NAME, None, f"not configured ({NO_KUBECONFIG})")]
        where = f"context {client.context} ({redact(client.server)})"
        try:
            client.get_node("mlopstui-doctor-probe")
        except KubeForbidden:
            return [Check(NAME, True, f"{where} answers; RBAC forbids reading nodes")]
        except SourceError as exc:
            return [Check(NAME, False, f"{where}: {redact(str(exc))}")]
        except Exception as exc:  # a doctor never prints a traceback
            return [Check(NAME, False, f"{where}: {type(exc).__name__}: {exc}")]
        return [Check(NAME, True, f"{where} answers")]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _audit_label(client: KubeSource | None) -> str:
    """How the pinned context is named in confirmations and the audit log (no credentials)."""
    if client is None:
        return NAME
    return f"kubernetes {client.context} ({redact(client.server)})"
