"""Flag: a remote server reports a post or comment; it lands in the admin's reports list."""

from __future__ import annotations

from fedblog.inbox.context import HandlerContext, Result


async def handle(ctx: HandlerContext) -> Result:
    async with ctx.transaction() as conn:
        await ctx.services.flags.file(conn, ctx.activity)
    return Result.PROCESSED
