"""The mixed load: a few asyncio workers speaking the public API through the gateway.

Each worker owns its own accounts and acts for them one request at a time, so the order of the
actions on one (follower, followee) pair is the order they were sent, and the last acknowledged
action defines the state the databases must hold. Every response is recorded with its times.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx

CLIENT_TIMEOUT_SECONDS = 10.0
PASSWORD = "correct horse battery"
# Pacing after a refused or failed request, so a down dependency is not hammered in a busy loop.
BACKOFF_SECONDS = 0.2
THINK_SECONDS = 0.01


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Outcome:
    """One request: when it ran (seconds since the run started) and how it ended."""

    op: str
    started: float
    ended: float
    status: int | None
    error: str | None = None
    problem_json: bool = False


@dataclass
class PairState:
    """What the client knows of one relation (a follow, a like)."""

    acked: bool | None = None
    #: A request after the last acknowledged one got no answer: the server may have applied it.
    uncertain: bool = False


@dataclass
class Ledger:
    """Everything the load did and what the system acknowledged."""

    started_at: float = field(default_factory=time.monotonic)
    outcomes: list[Outcome] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    #: post id -> author id, for every 201.
    posts: dict[str, str] = field(default_factory=dict)
    #: post ids whose delete got a 204.
    deleted: set[str] = field(default_factory=set)
    #: post ids whose delete got no answer: either state is acceptable.
    delete_uncertain: set[str] = field(default_factory=set)
    follows: dict[tuple[str, str], PairState] = field(default_factory=dict)
    likes: dict[tuple[str, str], PairState] = field(default_factory=dict)
    #: accounts that read their feed during the run.
    readers: set[str] = field(default_factory=set)
    #: accounts whose deletion got a 204.
    gone: set[str] = field(default_factory=set)
    #: accounts whose deletion got no answer (or a 5xx): either state is acceptable.
    gone_uncertain: set[str] = field(default_factory=set)

    def now(self) -> float:
        return time.monotonic() - self.started_at

    def by_id(self) -> dict[str, Account]:
        return {a.id: a for a in self.accounts}

    def touched_by_deletion(self) -> set[str]:
        return self.gone | self.gone_uncertain


def record_pair(
    pairs: dict[tuple[str, str], PairState], key: tuple[str, str], acked: bool | None
) -> None:
    """Notes an answer (True/False: the acknowledged state) or a request that got none."""
    state = pairs.setdefault(key, PairState())
    if acked is None:
        state.uncertain = True
    else:
        state.acked = acked
        state.uncertain = False


class LoadWorker:
    def __init__(
        self,
        index: int,
        client: httpx.AsyncClient,
        ledger: Ledger,
        *,
        accounts_per_worker: int,
        rng: random.Random,
    ) -> None:
        self.index = index
        self.client = client
        self.ledger = ledger
        self.target_accounts = accounts_per_worker
        self.rng = rng
        self.own: list[Account] = []
        self.own_posts: dict[str, list[str]] = {}

    async def call(
        self, op: str, method: str, path: str, account: Account | None = None, **kwargs: object
    ) -> httpx.Response | None:
        headers = account.headers if account else {}
        started = self.ledger.now()
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            self.ledger.outcomes.append(
                Outcome(op, started, self.ledger.now(), None, f"timeout:{type(exc).__name__}")
            )
            return None
        except httpx.TransportError as exc:
            self.ledger.outcomes.append(
                Outcome(op, started, self.ledger.now(), None, f"transport:{type(exc).__name__}")
            )
            await asyncio.sleep(BACKOFF_SECONDS)
            return None
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        self.ledger.outcomes.append(
            Outcome(op, started, self.ledger.now(), response.status_code, None, problem)
        )
        if response.status_code >= 500:
            await asyncio.sleep(BACKOFF_SECONDS)
        return response

    async def register(self) -> None:
        username = f"c{self.index}_{uuid.uuid4().hex[:10]}"
        response = await self.call(
            "register",
            "POST",
            "/auth/register",
            json={"username": username, "password": PASSWORD},
        )
        if response is not None and response.status_code == 201:
            body = response.json()
            account = Account(body["user"]["id"], username, body["access_token"])
            self.own.append(account)
            self.own_posts[account.id] = []
            self.ledger.accounts.append(account)

    async def follow(self, me: Account, unfollow: bool) -> None:
        touched = self.ledger.touched_by_deletion()
        others = [a for a in self.ledger.accounts if a.id != me.id and a.id not in touched]
        if unfollow:
            others = [
                a
                for a in others
                if (state := self.ledger.follows.get((me.id, a.id))) and state.acked is not False
            ]
        if not others:
            return
        other = self.rng.choice(others)
        method = "DELETE" if unfollow else "POST"
        response = await self.call(
            "unfollow" if unfollow else "follow", method, f"/users/{other.username}/follow", me
        )
        acked = None
        if response is not None and response.status_code == 200:
            acked = response.json()["following"]
        record_pair(self.ledger.follows, (me.id, other.id), acked)

    async def post(self, me: Account) -> None:
        response = await self.call(
            "post", "POST", "/posts", me, json={"caption": f"chaos {uuid.uuid4().hex[:8]}"}
        )
        if response is not None and response.status_code == 201:
            post_id = response.json()["id"]
            self.ledger.posts[post_id] = me.id
            self.own_posts[me.id].append(post_id)

    async def delete(self, me: Account) -> None:
        mine = self.own_posts.get(me.id) or []
        if not mine:
            return
        post_id = mine.pop(self.rng.randrange(len(mine)))
        response = await self.call("delete", "DELETE", f"/posts/{post_id}", me)
        if response is not None and response.status_code == 204:
            self.ledger.deleted.add(post_id)
        else:
            self.ledger.delete_uncertain.add(post_id)

    async def like(self, me: Account) -> None:
        live = [p for p in self.ledger.posts if p not in self.ledger.deleted]
        if not live:
            return
        post_id = self.rng.choice(live[-50:])
        response = await self.call("like", "POST", f"/posts/{post_id}/like", me)
        acked = None
        if response is not None and response.status_code == 200:
            acked = True
        elif response is not None and response.status_code == 404:
            return  # deleted meanwhile by its author
        record_pair(self.ledger.likes, (me.id, post_id), acked)

    async def delete_account(self, me: Account) -> None:
        """Deletes one of this worker's accounts, which then makes no further request."""
        response = await self.call(
            "delete_account", "DELETE", "/users/me", me, json={"password": PASSWORD}
        )
        if response is not None and 400 <= response.status_code < 500:
            return  # refused: the account stays
        self.own.remove(me)
        if response is not None and response.status_code == 204:
            self.ledger.gone.add(me.id)
        else:
            self.ledger.gone_uncertain.add(me.id)

    async def read_feed(self, me: Account) -> None:
        response = await self.call("feed", "GET", "/feed", me, params={"limit": 20})
        if response is not None and response.status_code == 200:
            self.ledger.readers.add(me.id)

    async def step(self) -> None:
        if len(self.own) < self.target_accounts and (not self.own or self.rng.random() < 0.3):
            await self.register()
            return
        if not self.own:
            return
        me = self.rng.choice(self.own)
        roll = self.rng.random()
        if roll < 0.25:
            await self.follow(me, unfollow=False)
        elif roll < 0.35:
            await self.follow(me, unfollow=True)
        elif roll < 0.60:
            await self.post(me)
        elif roll < 0.66:
            await self.delete(me)
        elif roll < 0.78:
            await self.like(me)
        elif roll < 0.784 and len(self.own) > 1:
            await self.delete_account(me)
        else:
            await self.read_feed(me)

    async def run(self, stop: asyncio.Event, max_requests: int) -> None:
        """Sends requests until told to stop or until ``max_requests`` were made."""
        for _ in range(max_requests):
            if stop.is_set():
                return
            await self.step()
            await asyncio.sleep(THINK_SECONDS)


async def run_load(
    gateway_url: str,
    ledger: Ledger,
    stop: asyncio.Event,
    *,
    workers: int,
    accounts_per_worker: int,
    max_requests_per_worker: int,
    seed: int,
) -> None:
    limits = httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers)
    async with httpx.AsyncClient(
        base_url=f"{gateway_url}/api/v1", timeout=CLIENT_TIMEOUT_SECONDS, limits=limits
    ) as client:
        load_workers = [
            LoadWorker(
                i,
                client,
                ledger,
                accounts_per_worker=accounts_per_worker,
                rng=random.Random(seed + i),
            )
            for i in range(workers)
        ]
        await asyncio.gather(*(w.run(stop, max_requests_per_worker) for w in load_workers))
