"""Give the corpus its words: products, change requests, document numbers, people and sentences.

Everything is derived from the corpus size ``n`` and a ``random.Random``, so a
document's text depends only on (seed, n, index) and the queries of
:mod:`bench.queries` know which identifiers exist.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

PRODUCTS = (
    ("WX-100", "Widget X", ("Widget-X", "WX100")),
    ("WX-110", "Widget X Mini", ("WX110",)),
    ("WX-200", "Widget X Pro", ("WX200", "Widget-X-Pro")),
    ("WX-210", "Widget X Pro Max", ("WX210",)),
    ("GB-7", "Gearbox Seven", ("GB7", "Gearbox 7")),
    ("GB-9", "Gearbox Nine", ("GB9",)),
    ("PX-300", "Pump Three Hundred", ("PX300",)),
    ("PX-310", "Pump Three Ten", ("PX310",)),
    ("MT-40", "Motor Forty", ("MT40",)),
    ("MT-45", "Motor Forty-Five", ("MT45",)),
    ("HV-900", "High Voltage Module", ("HV900",)),
    ("SN-12", "Sensor Twelve", ("SN12",)),
)

PEOPLE = ("Anna Meyer", "Tom Haller", "Lea Fischer", "Jonas Brandt", "Mia Keller", "Paul Wagner",
          "Sara Novak", "Omar Aziz", "Ines Costa", "Ken Tanaka", "Ruth Olsen", "Ivan Petrov",
          "Nora Berg", "Luis Ortega", "Eva Lind", "Max Vogel")
SUPPLIERS = ("Acme Castings", "Nordic Seals", "Precision Gears", "Delta Fasteners", "Orion Plastics",
             "Vega Electronics", "Titan Bearings", "Helix Coatings")
PARTS = ("housing", "gasket", "shaft", "bearing", "cover", "bracket", "connector", "seal", "gear",
         "impeller", "rotor", "stator", "PCB assembly", "cable harness", "fastener", "label", "enclosure",
         "valve", "spring", "sensor board")
MATERIALS = ("aluminium", "die-cast zinc", "stainless steel", "PA66 GF30", "POM", "EPDM", "FKM",
             "brass", "copper", "polycarbonate", "ABS", "silicone")
PHRASES = ("design review", "torque limit", "change control board", "surface finish", "supplier quote",
           "root cause", "test report", "lead time", "first article inspection", "corrective action",
           "salt spray test", "drop test", "bill of materials", "production release", "pilot run")
WORDS = """
accept acceptance adhesive alignment amplitude analysis anodised approval approve approved assembly audit
batch bending bore burr calibration capacity certificate chamfer clearance coating compliance component
concentricity condition conformity contamination coordinate corrosion cost coupling crack creep customer
cycle damage deadline defect deflection delivery density deviation dimension disposition document drawing
durability edge efficiency elongation endurance engineering environment estimate evaluation evidence
fatigue feasibility feature field finish firmware fit fixture flatness flow force fracture friction
functional gauge grade hardness heat humidity impact inspection installation interface inventory
jig label layout leakage lifetime load lot lubricant machining maintenance margin measurement
migration milestone moisture mould noise nominal obsolete operator order packaging parameter
performance pilot plating porosity pressure procedure process production prototype qualification
quality quantity radius rating reliability release repair request requirement resistance revision
risk roughness safety sample schedule scrap shipment shrinkage simulation specification stiffness
strength stress supplier surface temperature tensile test thickness thread tolerance tooling
torque traceability transport trial validation variance verification vibration voltage warranty
wear weight weld yield
""".split()
UNITS = ("Nm", "mm", "um", "MPa", "N", "kg", "degC", "V", "h", "cycles", "%")
DECISIONS = ("approved", "rejected", "deferred")


@dataclass(frozen=True)
class Universe:
    """The identifiers a corpus of ``n`` documents draws from."""

    n: int
    crs: tuple[str, ...]
    ecos: tuple[str, ...]
    docnums: tuple[str, ...]

    def cr_year(self, cr: str) -> int:
        """Return the year written in a change request id."""
        return int(cr.split("-")[1])


@lru_cache(maxsize=8)
def universe(n: int) -> Universe:
    """Return the identifiers for a corpus of ``n`` documents (more documents, more of them)."""
    count = max(6, n // 10)
    crs = tuple(f"CR-{2023 + k % 3}-{k // 3 + 1:04d}" for k in range(count))
    ecos = tuple(f"ECO-{1001 + k}" for k in range(max(3, n // 50)))
    per_prefix = max(3, n // 40)
    docnums = tuple(f"{prefix}-{start + k}" for prefix, start in (("SPEC", 101), ("DWG", 3301), ("QP", 1),
                                                                   ("TR", 501)) for k in range(per_prefix))
    return Universe(n, crs, ecos, docnums)


def token(index: int) -> str:
    """Return the unique word of document ``index``: letters only, never a real word ('zqaaab')."""
    letters = []
    for _ in range(4):
        index, rest = divmod(index, 26)
        letters.append(chr(ord("a") + rest))
    return "zq" + "".join(reversed(letters))


@dataclass(frozen=True)
class Context:
    """What one document is about."""

    index: int
    n: int
    token: str
    product: tuple[str, str, tuple[str, ...]]
    cr: str
    eco: str
    docnum: str
    revision: str
    cited: str
    day: date
    person: str
    other: str
    supplier: str
    part: str


def context(rng: random.Random, index: int, u: Universe) -> Context:
    """Draw what document ``index`` is about; popular identifiers come up more often."""
    cr = u.crs[_skewed(rng, len(u.crs))]
    start = date(u.cr_year(cr), 1, 1)
    person, other = rng.sample(PEOPLE, 2)
    return Context(
        index=index, n=u.n, token=token(index), product=PRODUCTS[_skewed(rng, len(PRODUCTS))], cr=cr,
        eco=u.ecos[_skewed(rng, len(u.ecos))], docnum=u.docnums[_skewed(rng, len(u.docnums))],
        revision="ABCDE"[rng.randrange(5)], cited=rng.choice(u.docnums),
        day=start + timedelta(days=rng.randrange(365)), person=person, other=other,
        supplier=rng.choice(SUPPLIERS), part=rng.choice(PARTS))


def _skewed(rng: random.Random, size: int) -> int:
    # A few identifiers are named by many papers, most by a handful (roughly Zipf-like).
    return min(size - 1, int(size * rng.random() ** 2.2))


_TEMPLATES = (
    "The {part} of {code} shall withstand a {word} load of {num} {unit} without visible {word2}.",
    "{person} reported that the {part} fails the {phrase} after {num} {unit}.",
    "Per {cr}, the {part} material changes from {mat} to {mat2}.",
    "See {cited} for the {word} requirements of the {part}.",
    "The {phrase} on {iso} confirmed the {word} of the {part} for {name}.",
    "{supplier} quoted a lead time of {small} weeks for {num} pieces of the {part}.",
    "Measured {word} was {num} {unit} against a nominal of {num2} {unit}.",
    "Action: {person} to update {docnum} Rev {rev} with the new {word} values.",
    "The {word} of the {part} is within tolerance; no {word2} was found.",
    "{name} ({code}) pilot lot {small} passed the {phrase}.",
    "Risk: {word} of the {part} may affect {word2} at {num} {unit}.",
    "The change control board discussed {cr} and its effect on {code}.",
    "Root cause of the {word} is the {part} {word2} introduced in Rev {rev}.",
    "Verification of {cr} is planned for {iso} with {supplier}.",
    "All {word} records are filed under {docnum}.",
    "Torque limit of the {part} fastener is {small} Nm with a {word} margin.",
    "The {part} drawing {cited} shows a {word} of {num} {unit} at the {word2} edge.",
    "{person} and {other} agreed to close the {word} finding.",
)


def sentence(rng: random.Random, ctx: Context) -> str:
    """Return one sentence about the document's subject, with its identifiers now and then."""
    template = rng.choice(_TEMPLATES)
    return template.format(
        part=ctx.part if rng.random() < 0.6 else rng.choice(PARTS), code=ctx.product[0], name=ctx.product[1],
        word=rng.choice(WORDS), word2=rng.choice(WORDS), num=rng.randrange(1, 5000),
        num2=rng.randrange(1, 5000), small=rng.randrange(2, 40), unit=rng.choice(UNITS),
        person=ctx.person, other=ctx.other, cr=ctx.cr, mat=rng.choice(MATERIALS), mat2=rng.choice(MATERIALS),
        cited=ctx.cited, phrase=rng.choice(PHRASES), iso=ctx.day.isoformat(), supplier=ctx.supplier,
        docnum=ctx.docnum, rev=ctx.revision)


def paragraph(rng: random.Random, ctx: Context, sentences: int) -> str:
    """Return a paragraph of ``sentences`` sentences."""
    return " ".join(sentence(rng, ctx) for _ in range(sentences))


def closing(ctx: Context) -> str:
    """Return the last line every document carries: its date, author and unique word."""
    return f"Filed {ctx.day.isoformat()} by {ctx.person}. Reference word {ctx.token}."


def products_toml() -> str:
    """Return the product registry (``archiver init --products``) of the corpus."""
    out = []
    for code, name, aliases in PRODUCTS:
        quoted = ", ".join(f'"{a}"' for a in aliases)
        out.append(f'[[products]]\ncode = "{code}"\nname = "{name}"\naliases = [{quoted}]\n')
    return "\n".join(out)
