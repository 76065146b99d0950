"""One chunk of organisations, from hidden state to Arrow columns.

A chunk has its own random stream (``SeedSequence(seed, spawn_key=(index,))``), so chunks
are independent and the world is the same whatever the machine. Organisations that the
source never records by the snapshot are dropped here, with everything that hangs off
them; ids are then numbered with running counters so that they stay dense and unique.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from talentmap import contract
from talentmap.generate import arrow, geography, sectors
from talentmap.generate.calendar import MonthGrid
from talentmap.generate.education import DEGREES, INSTITUTIONS, draw_degrees
from talentmap.generate.funding import ROUND_TYPES, draw_rounds
from talentmap.generate.hidden import draw_orgs, draw_path
from talentmap.generate.hiring import CATEGORIES, draw_hiring
from talentmap.generate.investors import INVESTOR_KINDS, draw_investments, registry
from talentmap.generate.names import org_names, person_names
from talentmap.generate.optouts import draw_opt_outs
from talentmap.generate.oracle import oracle_rows
from talentmap.generate.outcomes import IPO, NEVER, simulate
from talentmap.generate.people import GENDERS, ROLES, TITLES, draw_people_and_roles
from talentmap.generate.programs import (
    JEI,
    PROGRAM_IDS,
    PROGRAM_KIND,
    PROGRAM_KINDS,
    PROGRAM_NAMES,
    draw_programs,
)
from talentmap.generate.research import PUB_KINDS, VENUES, draw_publications
from talentmap.generate.visibility import first_seen

EXIT_KINDS: list[str] = list(contract.EXIT_KINDS)
SUBJECT_KINDS: list[str] = list(contract.SUBJECT_KINDS)
ORG_ID_WIDTH, PERSON_ID_WIDTH, ROUND_ID_WIDTH, PUB_ID_WIDTH = 7, 8, 8, 8


@dataclass
class Counters:
    """Running id counters carried from chunk to chunk."""

    persons: int = 0
    rounds: int = 0
    pubs: int = 0


@dataclass
class ChunkOutput:
    tables: dict[str, dict[str, pa.Array]]
    oracle: dict[str, pa.Array]
    hidden: dict[str, pa.Array]
    n_written: int
    # Realised label and the oracles' p over visible candidates whose window the data
    # covers (p_sum: the as-of oracle; p_path_sum: the path oracle).
    label_sum: int = 0
    p_sum: float = 0.0
    p_path_sum: float = 0.0
    n_candidates: int = 0


def _remap(keep: np.ndarray, offset: int) -> np.ndarray:
    """New global number for kept items (-1 for dropped), numbered in order."""
    new = np.full(keep.shape[0], -1, dtype=np.int64)
    new[keep] = offset + np.arange(int(keep.sum()))
    return new


def generate_chunk(
    seed: int,
    index: int,
    n: int,
    org_offset: int,
    grid: MonthGrid,
    oracle_every_months: int,
    counters: Counters,
) -> ChunkOutput:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    orgs = draw_orgs(rng, n, grid)
    path = draw_path(rng, orgs, grid)
    out = simulate(rng, orgs, path, grid)
    members, prizes = draw_programs(rng, orgs, out, grid)
    rounds = draw_rounds(rng, orgs, path, out, prizes, grid)
    invest = draw_investments(rng, rounds)
    f = orgs.founded_month
    founded_on = grid.random_day(rng, f)

    def day(months: np.ndarray, org: np.ndarray) -> np.ndarray:
        """Event day in its month, not before founding when it falls in the founding month."""
        d = grid.random_day(rng, months)
        return np.where(months >= f[org], np.maximum(d, founded_on[org]), d)

    round_day = day(rounds.month, rounds.org)
    prog_start = day(members.start_month, members.org)
    exited = np.nonzero(out.exit_month < NEVER)[0]
    exit_day = day(out.exit_month[exited], exited)

    seen = first_seen(
        rng, founded_on, [(rounds.org, round_day), (members.org, prog_start), (exited, exit_day)]
    )
    visible = seen <= grid.end_day

    people, roles = draw_people_and_roles(rng, orgs, out, grid, visible, path.seed_month)
    n_founders = int(orgs.team_size.sum())
    is_founder = np.arange(people.gender.shape[0]) < n_founders
    degrees = draw_degrees(rng, people, orgs.is_fr[people.home_org], is_founder, grid)
    pubs = draw_publications(rng, orgs, out, people, roles, degrees, grid)
    hiring = draw_hiring(rng, orgs, path, out, rounds, grid)

    hc_day = day(hiring.hc_month, hiring.hc_org)
    job_day = day(hiring.job_month, hiring.job_org)
    role_start = grid.random_day(rng, roles.start_month)
    role_start = np.where(
        roles.start_month >= f[roles.org], np.maximum(role_start, founded_on[roles.org]), role_start
    )
    role_end = np.where(
        roles.end_month < NEVER,
        np.maximum(grid.random_day(rng, np.minimum(roles.end_month, NEVER - 1)), role_start),
        np.datetime64("NaT"),
    )
    pub_org = np.maximum(pubs.org, 0)
    pub_day = grid.random_day(rng, pubs.month)
    pub_day = np.where(
        (pubs.org >= 0) & (pubs.month >= f[pub_org]),
        np.maximum(pub_day, founded_on[pub_org]),
        pub_day,
    )

    # Closure and exit days come after every other event of the company.
    last_event = founded_on.astype(np.int64).copy()
    for org, d in (
        (rounds.org, round_day),
        (members.org, prog_start),
        (hiring.hc_org, hc_day),
        (hiring.job_org, job_day),
    ):
        np.maximum.at(last_event, org, d.astype(np.int64))
    closed = out.close_month < NEVER
    close_day = np.where(
        closed,
        np.maximum(
            grid.random_day(rng, np.minimum(out.close_month, NEVER - 1)),
            last_event.astype("datetime64[D]"),
        ),
        np.datetime64("NaT"),
    )
    close_day = np.minimum(close_day, grid.end_day)
    exit_day = np.minimum(
        np.maximum(exit_day, last_event[exited].astype("datetime64[D]")), grid.end_day
    )

    # The as-of oracle's Monte Carlo has a child stream of its own, drawn from last, so
    # every other output of the world is the same with or without it.
    oracle_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)).spawn(1)[0])
    oracle = oracle_rows(path, orgs, out, grid, oracle_every_months, visible, oracle_rng)
    as_of_day = grid.month_last_day(oracle.month)

    # ---- keep only what hangs off recorded organisations, and number it ----
    org_num = _remap(visible, org_offset)
    org_id = arrow.identifiers("org-", org_num, ORG_ID_WIDTH)

    role_keep = visible[roles.org]
    referenced = np.zeros(people.gender.shape[0], dtype=bool)
    referenced[roles.person[role_keep]] = True
    pub_keep = ((pubs.org < 0) | visible[pub_org]) & (
        (pubs.person < 0) | referenced[np.maximum(pubs.person, 0)]
    )
    pub_keep &= ~((pubs.org < 0) & (pubs.person < 0))
    person_num = _remap(referenced, counters.persons)
    counters.persons += int(referenced.sum())

    round_keep = visible[rounds.org]
    round_num = _remap(round_keep, counters.rounds)
    counters.rounds += int(round_keep.sum())
    inv_keep = round_keep[invest.round]
    pub_num = _remap(pub_keep, counters.pubs)
    counters.pubs += int(pub_keep.sum())

    def org_col(org: np.ndarray) -> pa.Array:
        return arrow.identifiers("org-", org_num[org], ORG_ID_WIDTH)

    def person_col(person: np.ndarray) -> pa.Array:
        num = np.where(person >= 0, person_num[np.maximum(person, 0)], -1)
        return arrow.identifiers("per-", num, PERSON_ID_WIDTH)

    v = visible
    tables: dict[str, dict[str, pa.Array]] = {}
    tables["organizations"] = {
        "org_id": org_id.filter(pa.array(v)),
        "name": org_names(rng, n).filter(pa.array(v)),
        "founded_on": arrow.dates(founded_on[v]),
        "closed_on": arrow.dates(close_day[v]),
        "country": arrow.categorical(orgs.country[v], geography.COUNTRIES),
        "region": arrow.categorical(orgs.region[v], geography.REGIONS),
        "city": arrow.categorical(
            np.where(rng.random(n) < 0.03, -1, orgs.city)[v], geography.CITIES
        ),
        "sector": arrow.categorical(
            np.where(rng.random(n) < 0.02, -1, orgs.sector)[v], sectors.NAMES
        ),
        "first_seen_on": arrow.dates(seen[v]),
    }
    pk = referenced
    tables["people"] = {
        "person_id": person_col(np.nonzero(pk)[0]),
        "full_name": person_names(rng, people.gender[pk]),
        "gender": arrow.categorical(
            np.where(people.gender[pk] >= len(GENDERS), -1, people.gender[pk]), GENDERS
        ),
        "birth_year": arrow.integers(people.birth_year[pk], ~people.birth_year_known[pk]),
    }
    tables["roles"] = {
        "person_id": person_col(roles.person[role_keep]),
        "org_id": org_col(roles.org[role_keep]),
        "role": arrow.categorical(roles.role[role_keep], ROLES),
        "title": arrow.categorical(roles.title[role_keep], TITLES),
        "started_on": arrow.dates(role_start[role_keep]),
        "ended_on": arrow.dates(role_end[role_keep]),
    }
    dk = referenced[degrees.person]
    grad_day = np.where(
        degrees.graduated_known,
        (degrees.graduated_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        + rng.integers(150, 270, degrees.person.shape[0]).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    tables["education"] = {
        "person_id": person_col(degrees.person[dk]),
        "institution": arrow.categorical(degrees.institution[dk], INSTITUTIONS),
        "degree": arrow.categorical(degrees.degree[dk], DEGREES),
        "graduated_on": arrow.dates(grad_day[dk]),
    }
    rk = round_keep
    tables["funding_rounds"] = {
        "round_id": arrow.identifiers("rnd-", round_num[rk], ROUND_ID_WIDTH),
        "org_id": org_col(rounds.org[rk]),
        "announced_on": arrow.dates(round_day[rk]),
        "round_type": arrow.categorical(rounds.round_type[rk], ROUND_TYPES),
        "amount_eur": arrow.floats(rounds.amount[rk]),
        "n_investors": arrow.integers(rounds.n_investors[rk], rounds.n_investors[rk] < 0),
    }
    reg = registry()
    inv = invest.investor[inv_keep]
    tables["investments"] = {
        "round_id": arrow.identifiers("rnd-", round_num[invest.round[inv_keep]], ROUND_ID_WIDTH),
        "investor_id": pa.array(reg.ids[inv], pa.string()),
        "investor_name": pa.array(reg.names[inv], pa.string()),
        "investor_kind": arrow.categorical(reg.kind[inv], INVESTOR_KINDS),
        "is_lead": arrow.booleans(invest.is_lead[inv_keep]),
    }
    mk = visible[members.org]
    dur = members.duration_months
    end_month = members.start_month + dur
    prog_end = np.where(
        (dur > 0) & (end_month < grid.n_months),
        np.maximum(grid.random_day(rng, np.minimum(end_month, grid.n_months - 1)), prog_start),
        np.datetime64("NaT"),
    )
    tables["programs"] = {
        "org_id": org_col(members.org[mk]),
        "program_id": arrow.categorical(members.program[mk], PROGRAM_IDS),
        "program_name": arrow.categorical(members.program[mk], PROGRAM_NAMES),
        "program_kind": arrow.categorical(PROGRAM_KIND[members.program[mk]], PROGRAM_KINDS),
        "started_on": arrow.dates(prog_start[mk]),
        "ended_on": arrow.dates(prog_end[mk]),
    }
    # JEI status is the JEI programme membership the world already draws, written also as
    # the contract's dated jei_status table: no extra random draw, so other tables are
    # unchanged and the status rate stays the programme's (R&D-intensive French companies).
    jk_mask = mk & (members.program == JEI)
    tables["jei_status"] = {
        "org_id": org_col(members.org[jk_mask]),
        "granted_on": arrow.dates(prog_start[jk_mask]),
        "ended_on": arrow.dates(prog_end[jk_mask]),
    }
    tables["publications"] = {
        "pub_id": arrow.identifiers("pub-", pub_num[pub_keep], PUB_ID_WIDTH),
        "person_id": person_col(pubs.person[pub_keep]),
        "org_id": arrow.identifiers(
            "org-", np.where(pubs.org[pub_keep] >= 0, org_num[pub_org[pub_keep]], -1), ORG_ID_WIDTH
        ),
        "published_on": arrow.dates(pub_day[pub_keep]),
        "kind": arrow.categorical(pubs.kind[pub_keep], PUB_KINDS),
        "venue": arrow.categorical(pubs.venue[pub_keep], VENUES),
    }
    hk = visible[hiring.hc_org]
    tables["headcount"] = {
        "org_id": org_col(hiring.hc_org[hk]),
        "observed_on": arrow.dates(hc_day[hk]),
        "headcount": arrow.integers(hiring.headcount[hk]),
    }
    jk = visible[hiring.job_org]
    tables["job_postings"] = {
        "org_id": org_col(hiring.job_org[jk]),
        "posted_on": arrow.dates(job_day[jk]),
        "category": arrow.categorical(hiring.job_category[jk], CATEGORIES),
    }
    ek = visible[exited]
    exit_amount = np.exp(rng.normal(np.log(60e6) + 0.4 * orgs.latent[exited], 1.2))
    exit_amount = np.where(out.exit_kind[exited] == IPO, exit_amount * 4, exit_amount)
    exit_amount = np.where(rng.random(exited.shape[0]) < 0.45, np.nan, np.round(exit_amount, -5))
    tables["exits"] = {
        "org_id": org_col(exited[ek]),
        "exit_kind": arrow.categorical(out.exit_kind[exited][ek], EXIT_KINDS),
        "exited_on": arrow.dates(exit_day[ek]),
        "amount_eur": arrow.floats(exit_amount[ek]),
    }

    # Opt-outs: people opt out after the first of their companies was recorded.
    person_seen = np.full(people.gender.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(person_seen, roles.person[role_keep], seen[roles.org[role_keep]].astype(np.int64))
    kept_people = np.nonzero(referenced)[0]
    opts = draw_opt_outs(
        rng, seen[v], person_seen[kept_people].astype("datetime64[D]"), grid.end_day
    )
    kept_orgs = np.nonzero(v)[0]
    # draw_opt_outs lists organisations first, then people.
    tables["opt_outs"] = {
        "subject_kind": arrow.categorical(
            np.where(opts.is_org, SUBJECT_KINDS.index("org"), SUBJECT_KINDS.index("person")),
            SUBJECT_KINDS,
        ),
        "subject_id": pa.concat_arrays(
            [
                org_col(kept_orgs[opts.subject[opts.is_org]]),
                person_col(kept_people[opts.subject[~opts.is_org]]),
            ]
        ),
        "since": arrow.dates(opts.since),
    }

    oracle_cols = {
        "org_id": org_col(oracle.org),
        "as_of": arrow.dates(as_of_day),
        "p_true": pa.array(oracle.p_true, pa.float32()),
        "p_path": pa.array(oracle.p_path, pa.float32()),
    }
    lead_rows = np.nonzero(roles.role == 0)[0]
    lead_rows = lead_rows[np.unique(roles.org[lead_rows], return_index=True)[1]]
    lead_gender = np.full(n, -1)
    lead_gender[roles.org[lead_rows]] = people.gender[roles.person[lead_rows]]
    team_talent = np.nanmean(orgs.talent, axis=1)
    hidden_cols = {
        "org_id": org_id.filter(pa.array(v)),
        "latent": pa.array(orgs.latent[v]),
        "quality": pa.array(orgs.quality[v]),
        "team_talent": pa.array(team_talent[v]),
        "women_led": pa.array(orgs.women_led[v]),
        "lead_gender": arrow.categorical(
            np.where(lead_gender >= len(GENDERS), -1, lead_gender)[v], GENDERS
        ),
    }

    # Candidates as the training issue defines them: recorded by the as-of date too.
    cand = (oracle.label >= 0) & (seen[oracle.org] <= as_of_day)
    return ChunkOutput(
        tables=tables,
        oracle=oracle_cols,
        hidden=hidden_cols,
        n_written=int(v.sum()),
        label_sum=int(oracle.label[cand].sum()),
        p_sum=float(oracle.p_true[cand].sum()),
        p_path_sum=float(oracle.p_path[cand].sum()),
        n_candidates=int(cand.sum()),
    )
