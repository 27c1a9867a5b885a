"""MLflow model registry adapter: registered models, versions, aliases and tags.

Over HTTP it speaks MLflow's REST API through `MlflowSource._request` (our timeout, retries
and credentials); against an embedded `sqlite:`/`file:` store it uses `MlflowClient`, imported
on first use. Both return domain values, with `version` always a str (REST gives a str, the
embedded store an int).

What MLflow's API does that callers should know:
- `model-versions/search` never fills a version's `aliases` (only `model-versions/get` does),
  so `versions()` leaves them empty; the cache derives them from the models' aliases.
- Listing versions uses no filter at all, so a hostile model name never goes into MLflow's
  filter grammar.
- A missing alias is answered INVALID_PARAMETER_VALUE (not RESOURCE_DOES_NOT_EXIST) by
  `registered-models/alias`, so `alias_target` reads the model's aliases instead.
- The DELETE endpoints read a JSON body, like MLflow's own REST store sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mlopstui.adapters import SourceError
from mlopstui.adapters.mlflow import MlflowSource
from mlopstui.domain import ModelVersion, RegisteredModel

_API = "/api/2.0/mlflow"
_MODELS_PAGE = 1000  # the server's cap for registered-models/search
_VERSIONS_PAGE = 1000  # the server takes up to 200,000; pages keep each answer small
_MISSING = object()


def _version(value: Any) -> str:
    """MLflow's version (int embedded, str over REST) as our str."""
    if value is None:
        return ""
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _highest(versions: list[str]) -> str | None:
    found = [v for v in versions if v]
    if not found:
        return None
    return max(found, key=lambda v: (_int(v) if _int(v) is not None else -1, v))


# ---------------------------------------------------------------- REST payloads


def _tags_json(items: Any) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or [] if "key" in t}


def _model_from_json(m: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=m.get("name", ""),
        description=m.get("description", "") or "",
        tags=_tags_json(m.get("tags")),
        aliases={
            a["alias"]: _version(a.get("version")) for a in m.get("aliases") or [] if "alias" in a
        },
        latest_version=_highest([_version(v.get("version")) for v in m.get("latest_versions", [])]),
        creation_time=_int(m.get("creation_timestamp")),
        last_updated=_int(m.get("last_updated_timestamp")),
    )


def _version_from_json(v: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=v.get("name", ""),
        version=_version(v.get("version")),
        status=v.get("status", "") or "",
        run_id=v.get("run_id", "") or "",
        source=v.get("source", "") or "",
        creation_time=_int(v.get("creation_timestamp")),
        last_updated=_int(v.get("last_updated_timestamp")),
        description=v.get("description", "") or "",
        tags=_tags_json(v.get("tags")),
        aliases=tuple(v.get("aliases") or ()),
    )


# ---------------------------------------------------------------- embedded entities


def _model_from_entity(m: Any) -> RegisteredModel:
    return RegisteredModel(
        name=m.name,
        description=m.description or "",
        tags={str(k): str(v) for k, v in (m.tags or {}).items()},
        aliases={str(k): _version(v) for k, v in (m.aliases or {}).items()},
        latest_version=_highest([_version(v.version) for v in m.latest_versions or []]),
        creation_time=_int(m.creation_timestamp),
        last_updated=_int(m.last_updated_timestamp),
    )


def _version_from_entity(v: Any) -> ModelVersion:
    return ModelVersion(
        name=v.name,
        version=_version(v.version),
        status=str(v.status or ""),
        run_id=v.run_id or "",
        source=v.source or "",
        creation_time=_int(v.creation_timestamp),
        last_updated=_int(v.last_updated_timestamp),
        description=v.description or "",
        tags={str(k): str(val) for k, val in (v.tags or {}).items()},
        aliases=tuple(str(a) for a in v.aliases or ()),
    )


class MlflowRegistry:
    """The model registry of one MLflow source (HTTP server or embedded store)."""

    def __init__(self, source: MlflowSource) -> None:
        self.source = source

    @property
    def uri(self) -> str:
        """The tracking URI the registry lives at."""
        return self.source.uri

    # -- helpers

    def _pages(self, endpoint: str, key: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            request = dict(body)
            if token:
                request["page_token"] = token
            resp = self.source._request("GET", f"{_API}/{endpoint}", request)
            yield from resp.get(key, [])
            token = resp.get("next_page_token")
            if not token:
                return

    def _get_or_none(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.source._request("GET", f"{_API}/{endpoint}", body)
        except SourceError as exc:
            # MLflow's own "not found" (HTTP 404); a bare 404 from a proxy is an error.
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def _embedded(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.source._call(fn, *args, **kwargs)

    def _embedded_or_none(self, fn: Callable[..., Any], *args: Any) -> Any:
        def call() -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                if getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
                    return _MISSING
                raise

        found = self.source._call(call)
        return None if found is _MISSING else found

    # -- reads

    def models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        if self.source.is_http:
            body = {"max_results": _MODELS_PAGE, "order_by": ["name ASC"]}
            return [
                _model_from_json(m)
                for m in self._pages("registered-models/search", "registered_models", body)
            ]
        client = self.source.client()
        out: list[RegisteredModel] = []
        token = None
        while True:
            page = self._embedded(
                client.search_registered_models,
                max_results=_MODELS_PAGE,
                order_by=["name ASC"],
                page_token=token,
            )
            out.extend(_model_from_entity(m) for m in page)
            token = page.token
            if not token:
                return out

    def versions(self) -> list[ModelVersion]:
        """Every version of every model, by model name then version number.

        No filter is sent, so model names never meet MLflow's filter grammar. Order is fixed
        (MLflow pages by offset; its default order, last update first, would shift between
        pages while someone tags a version).
        """
        order = ["name ASC", "version_number ASC"]
        if self.source.is_http:
            body = {"max_results": _VERSIONS_PAGE, "order_by": order}
            return [
                _version_from_json(v)
                for v in self._pages("model-versions/search", "model_versions", body)
            ]
        client = self.source.client()
        out: list[ModelVersion] = []
        token = None
        while True:
            page = self._embedded(
                client.search_model_versions,
                max_results=_VERSIONS_PAGE,
                order_by=order,
                page_token=token,
            )
            out.extend(_version_from_entity(v) for v in page)
            token = page.token
            if not token:
                return out

    def get_model(self, name: str) -> RegisteredModel | None:
        """One registered model, read live; None when it does not exist."""
        if self.source.is_http:
            resp = self._get_or_none("registered-models/get", {"name": name})
            return _model_from_json(resp.get("registered_model", {})) if resp else None
        found = self._embedded_or_none(self.source.client().get_registered_model, name)
        return _model_from_entity(found) if found is not None else None

    def get_version(self, name: str, version: str) -> ModelVersion | None:
        """One model version (with its aliases), read live; None when it does not exist."""
        if self.source.is_http:
            resp = self._get_or_none(
                "model-versions/get", {"name": name, "version": _version(version)}
            )
            return _version_from_json(resp.get("model_version", {})) if resp else None
        found = self._embedded_or_none(
            self.source.client().get_model_version, name, _version(version)
        )
        return _version_from_entity(found) if found is not None else None

    def alias_target(self, name: str, alias: str) -> str | None:
        """The version an alias points at now (live), or None (no such alias or model).

        Read through the model: MLflow answers a missing alias with INVALID_PARAMETER_VALUE,
        the same code as a malformed request.
        """
        found = self.get_model(name)
        return found.aliases.get(alias) if found else None

    # -- writes

    def _post(self, endpoint: str, body: dict[str, Any], method: str = "POST") -> None:
        self.source._request(method, f"{_API}/{endpoint}", body)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point `alias` of model `name` at `version` (MLflow moves it if it exists)."""
        version = _version(version)
        if self.source.is_http:
            body = {"name": name, "alias": alias, "version": version}
            self._post("registered-models/alias", body)
        else:
            client = self.source.client()
            self._embedded(client.set_registered_model_alias, name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias from a model."""
        if self.source.is_http:
            self._post("registered-models/alias", {"name": name, "alias": alias}, "DELETE")
        else:
            client = self.source.client()
            self._embedded(client.delete_registered_model_alias, name, alias)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a registered model."""
        if self.source.is_http:
            self._post("registered-models/set-tag", {"name": name, "key": key, "value": value})
        else:
            client = self.source.client()
            self._embedded(client.set_registered_model_tag, name, key, value)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        """Set one tag of a model version."""
        version = _version(version)
        if self.source.is_http:
            body = {"name": name, "version": version, "key": key, "value": value}
            self._post("model-versions/set-tag", body)
        else:
            client = self.source.client()
            self._embedded(client.set_model_version_tag, name, version, key, value)

    def delete_version_tag(self, name: str, version: str, key: str) -> None:
        """Remove one tag of a model version."""
        version = _version(version)
        if self.source.is_http:
            body = {"name": name, "version": version, "key": key}
            self._post("model-versions/delete-tag", body, "DELETE")
        else:
            client = self.source.client()
            self._embedded(client.delete_model_version_tag, name, version, key)
