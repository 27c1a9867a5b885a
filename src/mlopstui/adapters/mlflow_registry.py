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

Page loops stop on a repeated next_page_token or after `MAX_PAGES` pages (`PageGuard`). A model
or version that does not parse (no name, no version, a timestamp that is not a number) is left
out and named in `skipped_models` / `skipped_versions` (`skipped` has both, for messages): the
registry sync must keep those cached rather than read their absence as a deletion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mlopstui.adapters import SourceError
from mlopstui.adapters.mlflow import (
    API,
    MlflowSource,
    PageGuard,
    Unparsable,
    entry_label,
    int_of,
    items,
    need,
    shown,
    text_of,
)
from mlopstui.domain import ModelVersion, RegisteredModel
from mlopstui.text import clean

_API = API.rstrip("/")
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


def _tags_json(obj: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, t in enumerate(items(obj, "tags")):
        if not isinstance(t, dict):
            raise Unparsable(f"tags[{i}]", f"is not an object ({shown(t)})")
        if "key" in t:
            out[text_of(t["key"], f"tags[{i}].key")] = text_of(t.get("value"), f"tags[{i}].value")
    return out


def _object(entry: Any, kind: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise Unparsable(kind, f"is not an object ({shown(entry)})")
    return entry


def _model_from_json(m: Any) -> RegisteredModel:
    m = _object(m, "registered_model")
    aliases = {}
    for i, a in enumerate(items(m, "aliases")):
        a = _object(a, f"aliases[{i}]")
        if "alias" in a:
            aliases[text_of(a["alias"], f"aliases[{i}].alias")] = _version(a.get("version"))
    latest = [
        _version(_object(v, f"latest_versions[{i}]").get("version"))
        for i, v in enumerate(items(m, "latest_versions"))
    ]
    return RegisteredModel(
        name=text_of(need(m, "name"), "name"),
        description=text_of(m.get("description"), "description"),
        tags=_tags_json(m),
        aliases=aliases,
        latest_version=_highest(latest),
        creation_time=int_of(m.get("creation_timestamp"), "creation_timestamp"),
        last_updated=int_of(m.get("last_updated_timestamp"), "last_updated_timestamp"),
    )


def _version_from_json(v: Any) -> ModelVersion:
    v = _object(v, "model_version")
    return ModelVersion(
        name=text_of(need(v, "name"), "name"),
        version=_version(need(v, "version")),
        status=text_of(v.get("status"), "status"),
        run_id=text_of(v.get("run_id"), "run_id"),
        source=text_of(v.get("source"), "source"),
        creation_time=int_of(v.get("creation_timestamp"), "creation_timestamp"),
        last_updated=int_of(v.get("last_updated_timestamp"), "last_updated_timestamp"),
        description=text_of(v.get("description"), "description"),
        tags=_tags_json(v),
        aliases=tuple(text_of(a, f"aliases[{i}]") for i, a in enumerate(items(v, "aliases"))),
    )


def _key(entry: Any, field: str) -> str:
    """An entry's name or version for a message, when it has a usable one."""
    value = entry.get(field) if isinstance(entry, dict) else getattr(entry, field, None)
    if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
        return str(value)
    return ""


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
        self.skipped_models: list[tuple[str, str]] = []
        """(model name or "", why) of each model the last `models()` left out."""
        self.skipped_versions: list[tuple[str, str, str]] = []
        """(model name or "", version or "", why) of each version the last `versions()` left
        out."""

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(model name, or "name version N", or ""; why) of everything the last `models()`
        and `versions()` left out, models first."""
        out = list(self.skipped_models)
        for name, version, why in self.skipped_versions:
            out.append((f"{name} version {version}" if name and version else name, why))
        return out

    @property
    def uri(self) -> str:
        """The tracking URI the registry lives at."""
        return self.source.uri

    # -- helpers

    def _pages(self, endpoint: str, key: str, body: dict[str, Any]) -> Iterator[tuple[int, Any]]:
        """(position in its page, entry) of every entry of every page."""
        guard = PageGuard(self.uri, endpoint)
        token = None
        while True:
            request = dict(body)
            if token:
                request["page_token"] = token
            resp = self.source._request("GET", f"{_API}/{endpoint}", request)
            try:
                entries = items(resp, key)
            except Unparsable as exc:
                raise SourceError(f"{self.uri} answered {endpoint} with {exc}") from None
            yield from enumerate(entries, 1)
            token = guard.follow(resp.get("next_page_token"))
            if not token:
                return

    def _parsed(self, what: str, entry: Any, parse: Callable[[Any], Any]) -> Any:
        """One entry of a live read (get_model, get_version); SourceError when it does not
        parse, since the caller acts on it."""
        try:
            return parse(entry)
        except Unparsable as exc:
            raise SourceError(f"{self.uri} answered {what} with {exc}") from None

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
        self.skipped_models = []
        out: list[RegisteredModel] = []

        def add(position: int, entry: Any, parse: Callable[[Any], RegisteredModel]) -> None:
            try:
                out.append(parse(entry))
            except (Unparsable, AttributeError, TypeError, ValueError) as exc:
                name = _key(entry, "name")
                why = exc if isinstance(exc, Unparsable) else f"{type(exc).__name__}: {exc}"
                label = entry_label("model", name, position)
                self.skipped_models.append((name, clean(f"{label}: {why}", limit=300)))

        if self.source.is_http:
            body = {"max_results": _MODELS_PAGE, "order_by": ["name ASC"]}
            for position, m in self._pages("registered-models/search", "registered_models", body):
                add(position, m, _model_from_json)
            return out
        client = self.source.client()
        guard = PageGuard(self.uri, "search_registered_models")
        token = None
        while True:
            page = self._embedded(
                client.search_registered_models,
                max_results=_MODELS_PAGE,
                order_by=["name ASC"],
                page_token=token,
            )
            for position, m in enumerate(page, 1):
                add(position, m, _model_from_entity)
            token = guard.follow(page.token)
            if not token:
                return out

    def versions(self) -> list[ModelVersion]:
        """Every version of every model, by model name then version number.

        No filter is sent, so model names never meet MLflow's filter grammar. Order is fixed
        (MLflow pages by offset; its default order, last update first, would shift between
        pages while someone tags a version).
        """
        order = ["name ASC", "version_number ASC"]
        self.skipped_versions = []
        out: list[ModelVersion] = []

        def add(position: int, entry: Any, parse: Callable[[Any], ModelVersion]) -> None:
            try:
                out.append(parse(entry))
            except (Unparsable, AttributeError, TypeError, ValueError) as exc:
                name, version = _key(entry, "name"), _key(entry, "version")
                why = exc if isinstance(exc, Unparsable) else f"{type(exc).__name__}: {exc}"
                if name and version:
                    label = f"version {clean(version, limit=20)} of model {clean(name, limit=64)}"
                else:
                    label = entry_label("model version", "", position)
                reason = clean(f"{label}: {why}", limit=300)
                self.skipped_versions.append((name, version, reason))

        if self.source.is_http:
            body = {"max_results": _VERSIONS_PAGE, "order_by": order}
            for position, v in self._pages("model-versions/search", "model_versions", body):
                add(position, v, _version_from_json)
            return out
        client = self.source.client()
        guard = PageGuard(self.uri, "search_model_versions")
        token = None
        while True:
            page = self._embedded(
                client.search_model_versions,
                max_results=_VERSIONS_PAGE,
                order_by=order,
                page_token=token,
            )
            for position, v in enumerate(page, 1):
                add(position, v, _version_from_entity)
            token = guard.follow(page.token)
            if not token:
                return out

    def get_model(self, name: str) -> RegisteredModel | None:
        """One registered model, read live; None when it does not exist."""
        if self.source.is_http:
            resp = self._get_or_none("registered-models/get", {"name": name})
            if resp is None:
                return None
            return self._parsed(
                "registered-models/get", resp.get("registered_model"), _model_from_json
            )
        found = self._embedded_or_none(self.source.client().get_registered_model, name)
        return _model_from_entity(found) if found is not None else None

    def get_version(self, name: str, version: str) -> ModelVersion | None:
        """One model version (with its aliases), read live; None when it does not exist."""
        if self.source.is_http:
            resp = self._get_or_none(
                "model-versions/get", {"name": name, "version": _version(version)}
            )
            if resp is None:
                return None
            return self._parsed("model-versions/get", resp.get("model_version"), _version_from_json)
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
