"""ResourceSync documents of a collection, under `/resourcesync/{collection}/`:

    capabilitylist.xml                     Capability List
    resourcelist.xml                       Resource List, or its index above one page
    resourcelist/{member}/{k}.xml          Resource List Index parts
    changelist.xml                         the open page 0, or the index once page 0 seals
    changelist/{k}.xml                     Change List pages
    changelist-archive.xml                 every sealed page

Each route hands its request to the read path (`app.read`), which builds the document
(docs/resourcesync.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.read import capability_lists, change_lists, resource_lists
from app.read.reader import AtPosition, ReaderDep

router = APIRouter(tags=["resourcesync"])
_GET_HEAD = ["GET", "HEAD"]


@router.api_route("/resourcesync/{collection}/capabilitylist.xml", methods=_GET_HEAD)
async def capability_list(collection: str, request: Request, reader: ReaderDep) -> Response:
    """Every capability the collection offers."""
    return await capability_lists.capability_list(reader, request, collection)


@router.api_route("/resourcesync/{collection}/resourcelist.xml", methods=_GET_HEAD)
async def resource_list(collection: str, request: Request, reader: ReaderDep) -> Response:
    """The collection's live resources (descendants included): one `<urlset>` when they fit
    one page, else a Resource List Index of stable part URIs."""
    return await resource_lists.resource_list(reader, request, collection)


@router.api_route("/resourcesync/{collection}/resourcelist/{part_collection}/{name}",
                  methods=_GET_HEAD)
async def resource_list_part(collection: str, part_collection: str, name: str,
                             request: Request, reader: ReaderDep, at: AtPosition = None
                             ) -> Response:
    """Part k of `part_collection` (the collection itself or a descendant) in the collection's
    Resource List Index; `at`: the index's log position (never answered from an older state)."""
    return await resource_lists.resource_list_part(reader, request, collection,
                                                   part_collection, name, at)


@router.api_route("/resourcesync/{collection}/changelist.xml", methods=_GET_HEAD)
async def change_list(collection: str, request: Request, reader: ReaderDep) -> Response:
    """The collection's changes in log order: its only page while that page is open, else a
    Change List Index (this URL never carries `until`)."""
    return await change_lists.change_list(reader, request, collection)


@router.api_route("/resourcesync/{collection}/changelist/{name}", methods=_GET_HEAD)
async def change_list_page(collection: str, name: str, request: Request,
                           reader: ReaderDep, at: AtPosition = None) -> Response:
    """Page k of the collection's Change List (sealed pages are immutable); `at` on the open
    page's link: the index's log position."""
    return await change_lists.change_list_page(reader, request, collection, name, at)


@router.api_route("/resourcesync/{collection}/changelist-archive.xml", methods=_GET_HEAD)
async def change_list_archive(collection: str, request: Request,
                              reader: ReaderDep) -> Response:
    """Every sealed Change List page with its `from`/`until` (ResourceSync Archives)."""
    return await change_lists.change_list_archive(reader, request, collection)
