"""Discovery: the Source Description, robots.txt and the plain sitemap for search engines.

Each route hands its request to the read path (`app.read.discovery`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.read import discovery
from app.read.reader import AtPosition, ReaderDep

router = APIRouter(tags=["discovery"])
_GET_HEAD = ["GET", "HEAD"]


@router.api_route("/.well-known/resourcesync", methods=_GET_HEAD)
async def source_description(request: Request, reader: ReaderDep) -> Response:
    """One Capability List per collection, nested collections included; links OAI-PMH."""
    return await discovery.source_description(reader, request)


@router.api_route("/robots.txt", methods=_GET_HEAD)
async def robots_txt(request: Request, reader: ReaderDep) -> Response:
    """A `Sitemap:` line per collection's Resource List (or index), and the plain sitemap."""
    return await discovery.robots_txt(reader, request)


@router.api_route("/sitemap.xml", methods=_GET_HEAD)
async def plain_sitemap(request: Request, reader: ReaderDep) -> Response:
    """Every live resource under this server's base URL, sitemaps.org only."""
    return await discovery.plain_sitemap(reader, request)


@router.api_route("/sitemap/{collection}/{name}", methods=_GET_HEAD)
async def plain_sitemap_part(collection: str, name: str, request: Request,
                             reader: ReaderDep, at: AtPosition = None) -> Response:
    """A part of the plain sitemap's index; `at`: the index's log position."""
    return await discovery.plain_sitemap_part(reader, request, collection, name, at)
