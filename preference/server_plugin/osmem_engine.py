"""Argilla search engine for osmem-server (an in-memory OpenSearch emulator).

Runs inside the SERVER virtualenv (.venv-argilla), never imported by semisynth itself.
osmem rejects the Painless scripts Argilla uses to add/remove one user's response, so those
updates are done as read -> edit -> conditional write (seq_no/primary_term), retried on conflict.
osmem has no knn: vector search is a brute-force cosine over the stored vectors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import Any

from argilla_server.models import Response, Suggestion, VectorSettings
from argilla_server.search_engine.base import SearchEngine
from argilla_server.search_engine.commons import es_field_for_vector_settings, es_index_name_for_dataset
from argilla_server.search_engine.opensearch import OpenSearchEngine
from opensearchpy.exceptions import ConflictError

ENGINE_NAME = "osmem"
_MAX_TRIES = 20


@SearchEngine.register(engine_name=ENGINE_NAME)
@dataclasses.dataclass
class OsmemSearchEngine(OpenSearchEngine):
    """OpenSearchEngine with script-free document edits and brute-force vector search."""

    def _configure_index_settings(self) -> dict:
        base = super()._configure_index_settings()
        base.pop("index.knn", None)
        return base

    def _mapping_for_vector_settings(self, vector_settings: VectorSettings) -> dict:
        # stored, not indexed: the brute-force search reads them back from _source
        return {es_field_for_vector_settings(vector_settings): {"type": "float", "index": False}}

    async def _edit_source(self, index: str, doc_id: str, edit) -> None:
        """Apply `edit(source) -> source` with optimistic concurrency; a missing doc is left alone."""
        for attempt in range(_MAX_TRIES):
            got = await self.client.get(index=index, id=doc_id, ignore=[404])
            if not got or not got.get("found"):
                return
            source = edit(dict(got["_source"]))
            try:
                await self.client.index(index=index, id=doc_id, body=source, refresh=True,
                                        if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"])
                return
            except ConflictError:
                await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError(f"osmem: could not update document {doc_id} after {_MAX_TRIES} tries")

    async def update_record_response(self, response: Response) -> None:
        record = response.record
        es_response = self._map_record_response_to_es(response)

        def edit(src: dict) -> dict:
            kept = [r for r in (src.get("responses") or []) if str(r.get("id")) != str(es_response["id"])]
            src["responses"] = [*kept, es_response]
            return src

        await self._edit_source(es_index_name_for_dataset(record.dataset), str(record.id), edit)

    async def delete_record_response(self, response: Response) -> None:
        record = response.record
        rid = str(response.id)

        def edit(src: dict) -> dict:
            src["responses"] = [r for r in (src.get("responses") or []) if str(r.get("id")) != rid]
            return src

        await self._edit_source(es_index_name_for_dataset(record.dataset), str(record.id), edit)

    async def delete_record_suggestion(self, suggestion: Suggestion) -> None:
        name = suggestion.question.name

        def edit(src: dict) -> dict:
            (src.get("suggestions") or {}).pop(name, None)
            return src

        await self._edit_source(es_index_name_for_dataset(suggestion.record.dataset), str(suggestion.record_id), edit)

    async def _request_similarity_search(self, index: str, vector_settings: VectorSettings, value: list[float],
                                         k: int, excluded_id: Any = None, query_filters: list[dict] | None = None
                                         ) -> dict:
        field = es_field_for_vector_settings(vector_settings)
        query: dict = {"bool": {"must": [{"exists": {"field": field}}]}}
        if query_filters:
            query["bool"]["filter"] = [{"bool": {"should": query_filters, "minimum_should_match": len(query_filters)}}]
        if excluded_id:
            query["bool"]["must_not"] = [{"ids": {"values": [str(excluded_id)]}}]
        hits = (await self.client.search(index=index, body={"query": query}, size=10_000,
                                         _source_includes=[field]))["hits"]["hits"]
        qn = math.sqrt(sum(x * x for x in value)) or 1.0

        def cosine(vec: list[float]) -> float:
            n = math.sqrt(sum(x * x for x in vec)) or 1.0
            return sum(a * b for a, b in zip(vec, value, strict=False)) / (n * qn)

        scored = []
        for h in hits:
            vec = h.get("_source", {})
            for part in field.split("."):
                vec = vec.get(part, {}) if isinstance(vec, dict) else {}
            if isinstance(vec, list):
                scored.append({"_id": h["_id"], "_score": (1 + cosine(vec)) / 2})
        scored.sort(key=lambda h: -h["_score"])
        top = scored[:k]
        return {"hits": {"total": {"value": len(top)}, "hits": top}}
