"""Stage 4 — retrieve: rankings fused and shifted by intent, neighbours merged, confidence scored."""

from ragqa.retrieve.confidence import Confidence
from ragqa.retrieve.passages import Part, Passage, merge_neighbours
from ragqa.retrieve.project import Filters, KindFilter, ProjectIndex
from ragqa.retrieve.rerank import Reranker
from ragqa.retrieve.retriever import Retrieval, Retriever

__all__ = ["Confidence", "Filters", "KindFilter", "Part", "Passage", "ProjectIndex", "Reranker",
           "Retrieval", "Retriever", "merge_neighbours"]
