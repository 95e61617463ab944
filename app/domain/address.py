"""Chinese receiver addresses: the region dataset and a fast province / city / district splitter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_REGIONS_PATH = Path(__file__).resolve().parents[2] / "resources" / "regions" / "cn_regions.json"

# Traditional characters that appear in 港澳台 addresses, folded one-for-one so that string
# offsets in the folded text are offsets in the original (``detail`` is cut from the original).
_FOLD = str.maketrans(
    "臺灣區縣門龍東軍義興華鄉鎮號樓觀離島黃瑪聖風順園內營莊橋國別",
    "台湾区县门龙东军义兴华乡镇号楼观离岛黄玛圣风顺园内营庄桥国别",
)

# Skipped between components: whitespace and the punctuation platforms put between levels.
_SEPARATORS = frozenset(",，、;；:：/|\\-—_·.。")

# A short name (浙江, 杭州) followed by one of these is part of a longer word, not a region:
# 吉林市 is a city, 山东路 / 北京路 / 湖南路 are streets, 海南藏族自治州 is in 青海.
_AFTER_SHORT_NOT_A_REGION = frozenset("市州县区路街道巷弄")
_AFTER_SHORT_NOT_A_REGION_2 = ("中路", "东路", "西路", "南路", "北路", "大道", "大街")

# Ethnic groups named in autonomous prefectures; the short name is what comes before them.
_ETHNIC_GROUPS = (
    "朝鲜族", "土家族", "苗族", "彝族", "侗族", "傣族", "白族", "蒙古族", "藏族", "哈萨克", "羌族",
    "布依族", "回族", "壮族", "维吾尔", "哈尼族", "傈僳族", "景颇族", "柯尔克孜", "德昂族", "纳西族",
)

# Suffix heuristics for divisions the dataset does not list.
_CITY_SUFFIXES = ("自治州", "地区", "盟", "市")
_DISTRICT_SUFFIX_CHARS = frozenset("区县旗市")
# Characters that end a heuristic name (not allowed after its first character): roads, buildings…
_NAME_STOP_CHARS = frozenset("路街道巷弄号楼栋幢座室村镇乡")
# Words ending in a district suffix that are places inside a district, not districts.
_NOT_DISTRICT_ENDINGS = (
    "小区", "社区", "校区", "厂区", "景区", "街区", "营区", "库区", "片区", "商区", "院区", "分区",
    "专区", "服务区", "工业区", "城市", "超市", "门市", "夜市", "集市",
)
_MAX_PLAIN_NAME = 8
_MAX_AUTONOMOUS_NAME = 16


@dataclass(frozen=True, slots=True)
class City:
    """A prefecture-level city (or a municipality / SAR standing as its own single city).

    Attributes:
        name: Official name, e.g. ``"杭州市"``.
        adcode: Six-digit GB/T 2260 code.
        districts: A sample of its districts and counties, official names.
        streets: A sample of real street names, for demo data.
    """

    name: str
    adcode: str
    districts: tuple[str, ...]
    streets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Province:
    """A provincial-level division.

    Attributes:
        name: Official name, e.g. ``"广西壮族自治区"``.
        short: Short name, e.g. ``"广西"``.
        adcode: Six-digit GB/T 2260 code.
        weight: Relative share of e-commerce orders (positive, not normalised).
        region: Sales region (华东, 华南, 华北, 华中, 西南, 西北, 东北, 港澳台).
        cities: A sample of its prefecture-level cities.
    """

    name: str
    short: str
    adcode: str
    weight: float
    region: str
    cities: tuple[City, ...]

    @property
    def is_city_level(self) -> bool:
        """True for municipalities and SARs, whose single "city" is the division itself."""
        return len(self.cities) == 1 and self.cities[0].name == self.name


@dataclass(frozen=True)
class Regions:
    """The region dataset, with lookup tables for the address parser built once.

    Attributes:
        provinces: All provincial-level divisions in dataset order.
    """

    provinces: tuple[Province, ...]
    _index: _Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _Index(self.provinces))

    def province(self, name: str) -> Province | None:
        """The province with this official or short name (``"浙江省"`` or ``"浙江"``), else None."""
        hit = self._index.province_alias.get(name)
        return hit[0] if hit else None


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """A receiver address split into levels.

    Attributes:
        province: Official provincial-level name, or None when not recognised.
        city: Official prefecture-level name (the municipality / SAR itself for those), or None.
        district: District, county or county-level city, or None.
        detail: The rest of the input after the recognised levels; always a suffix of the input.
    """

    province: str | None
    city: str | None
    district: str | None
    detail: str


def _short_city_names(name: str) -> tuple[str, ...]:
    """Informal names for a city: 杭州市 → 杭州; 延边朝鲜族自治州 → 延边, 延边州; 喀什地区 → 喀什."""
    if name.endswith("自治州"):
        stem = name[: -len("自治州")]
        cut = min((i for i in (stem.find(g, 2) for g in _ETHNIC_GROUPS) if i > 0), default=len(stem))
        return (stem[:cut], stem[:cut] + "州")
    for suffix in ("地区", "盟", "市"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return (name[: -len(suffix)],)
    return ()


class _Index:
    """Lookup tables built once per dataset: alias → object, plus the alias lengths to try."""

    def __init__(self, provinces: tuple[Province, ...]) -> None:
        # alias -> (province, is_official_name)
        self.province_alias: dict[str, tuple[Province, bool]] = {}
        # province name -> alias -> (city, is_official_name)
        self.city_alias: dict[str, dict[str, tuple[City, bool]]] = {}
        # (province name, city name) -> set of district names
        self.districts: dict[tuple[str, str], frozenset[str]] = {}
        # province name -> district -> cities holding a district of that name
        self.province_districts: dict[str, dict[str, list[City]]] = {}
        # alias -> [(province, city, is_official_name)] across the country
        self.global_city: dict[str, list[tuple[Province, City, bool]]] = {}
        # district -> [(province, city)] across the country
        self.global_district: dict[str, list[tuple[Province, City]]] = {}

        for province in provinces:
            self.province_alias[province.name] = (province, True)
            informal = [province.short]
            if province.name.endswith("自治区"):
                informal.append(province.short + "自治区")
            if province.name.endswith("特别行政区"):
                informal.append(province.short + "特区")
            if province.short == "内蒙古":
                informal.append("内蒙")
            for alias in informal:
                self.province_alias.setdefault(alias, (province, False))

            cities = self.city_alias.setdefault(province.name, {})
            by_district = self.province_districts.setdefault(province.name, {})
            for city in province.cities:
                aliases = [(city.name, True)]
                if city.name == province.name:
                    aliases += [(a, False) for a in informal]
                else:
                    aliases += [(a, False) for a in _short_city_names(city.name)]
                for alias, official in aliases:
                    cities.setdefault(alias, (city, official))
                    if city.name != province.name:
                        self.global_city.setdefault(alias, []).append((province, city, official))
                self.districts[(province.name, city.name)] = frozenset(city.districts)
                for district in city.districts:
                    by_district.setdefault(district, []).append(city)
                    self.global_district.setdefault(district, []).append((province, city))

        def lengths(keys: object) -> tuple[int, ...]:
            return tuple(sorted({len(k) for k in keys}, reverse=True))  # type: ignore[attr-defined]

        self.province_lengths = lengths(self.province_alias)
        self.city_lengths = lengths(a for table in self.city_alias.values() for a in table)
        self.district_lengths = lengths(self.global_district)


def _regions_from_json(data: dict) -> Regions:
    provinces = tuple(
        Province(
            name=p["name"],
            short=p["short"],
            adcode=p["adcode"],
            weight=float(p["weight"]),
            region=p["region"],
            cities=tuple(
                City(name=c["name"], adcode=c["adcode"], districts=tuple(c["districts"]),
                     streets=tuple(c["streets"]))
                for c in p["cities"]
            ),
        )
        for p in data["provinces"]
    )
    return Regions(provinces)


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Regions:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    try:
        return _regions_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a region dataset ({exc!r})") from exc


def load_regions(path: str | Path | None = None) -> Regions:
    """The region dataset, loaded once per path and cached.

    Args:
        path: JSON file in the ``cn_regions.json`` format; defaults to the bundled
            ``resources/regions/cn_regions.json``.

    Returns:
        The parsed dataset with its lookup tables built.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not valid JSON or not in the expected format.
    """
    if path is None:
        return _default_regions()
    return _load_cached(str(Path(path).resolve()))


@lru_cache(maxsize=1)
def _default_regions() -> Regions:
    return _load_cached(str(DEFAULT_REGIONS_PATH))


def province_short(name: str) -> str:
    """The short name of a provincial-level division.

    Args:
        name: Official name such as ``"广西壮族自治区"``, ``"浙江省"``, ``"北京市"`` or
            ``"香港特别行政区"``; a short name is returned unchanged.

    Returns:
        ``"广西"``, ``"浙江"``, ``"北京"``, ``"香港"``; the stripped input when no suffix is known.
    """
    name = name.strip()
    for suffix in ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _skip(s: str, pos: int) -> int:
    n = len(s)
    while pos < n and (s[pos] in _SEPARATORS or s[pos].isspace()):
        pos += 1
    return pos


def _short_is_part_of_longer_word(s: str, end: int) -> bool:
    """After a short name: is the text actually 吉林市, 山东路, 海南藏族…, not a region?"""
    if end >= len(s):
        return False
    if s[end] in _AFTER_SHORT_NOT_A_REGION or s[end + 1 : end + 2] == "族":
        return True
    return s.startswith(_AFTER_SHORT_NOT_A_REGION_2, end)


def _city_short_is_a_city(s: str, end: int, city: City) -> bool:
    """A short city name is kept when one of its listed districts follows: 哈尔滨道里区, not 哈尔滨道."""
    return not _short_is_part_of_longer_word(s, end) or s.startswith(city.districts, end)


def _longest(s: str, pos: int, table: dict, lengths: tuple[int, ...]) -> tuple[object, int]:
    """The longest alias in ``table`` starting at ``pos`` (short aliases guarded): (value, end)."""
    for length in lengths:
        key = s[pos : pos + length]
        hit = table.get(key)
        if hit is None:
            continue
        end = pos + len(key)
        if not hit[-1]:
            target = hit[0]
            if isinstance(target, City):
                if not _city_short_is_a_city(s, end, target):
                    continue
            elif _short_is_part_of_longer_word(s, end):
                continue
        return hit, end
    return None, pos


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _guess_city(s: str, pos: int) -> int:
    """End of an unlisted city name at ``pos`` (…市, …自治州, …地区, …盟), or -1."""
    n = len(s)
    if pos >= n or not _is_cjk(s[pos]):
        return -1
    limit = min(n, pos + _MAX_AUTONOMOUS_NAME)
    for j in range(pos + 1, limit):
        ch = s[j]
        if not _is_cjk(ch) or ch in _NAME_STOP_CHARS:
            return -1
        if ch in "区县旗":
            return -1  # a district or county, not a city
        for suffix in _CITY_SUFFIXES:
            if s.startswith(suffix, j):
                end = j + len(suffix)
                if suffix == "市" and (s[end : end + 1] == "场" or s[pos:end].endswith(_NOT_DISTRICT_ENDINGS)):
                    return -1
                if end - pos > _MAX_PLAIN_NAME and "自治" not in s[pos:end]:
                    return -1
                return end
    return -1


def _guess_district(s: str, pos: int) -> int:
    """End of an unlisted district / county / county-level city name at ``pos``, or -1."""
    n = len(s)
    if pos >= n or not _is_cjk(s[pos]):
        return -1
    limit = min(n, pos + _MAX_AUTONOMOUS_NAME)
    for j in range(pos + 1, limit):
        ch = s[j]
        if not _is_cjk(ch) or ch in _NAME_STOP_CHARS:
            return -1
        if ch in _DISTRICT_SUFFIX_CHARS:
            end = j + 1
            name = s[pos:end]
            if name.endswith(_NOT_DISTRICT_ENDINGS) or (ch == "市" and s[end : end + 1] == "场"):
                return -1
            if end - pos > _MAX_PLAIN_NAME and "自治" not in name:
                return -1
            return end
    return -1


def parse_address(text: str, regions: Regions | None = None) -> ParsedAddress:
    """Split a free-text receiver address into province, city, district and detail.

    Understands official and short names (``"浙江省杭州市"``, ``"浙江杭州"``, ``"广西南宁市"``),
    municipalities and SARs (``"北京市朝阳区…"``, ``"上海浦东新区…"``, ``"香港特别行政区九龙城区…"``),
    spaces or punctuation between levels, a leading ``"中国"``, and masked platform addresses
    (``"浙江省杭州市西湖区****"``). Cities and districts missing from the dataset are recognised
    by their suffix (…市, …自治州, …地区, …盟; …区, …县, …旗, …市) after a recognised province.
    Levels that cannot be recognised are None; this function never raises on a string.

    Args:
        text: The address as the buyer or platform wrote it.
        regions: The dataset to use; defaults to :func:`load_regions`.

    Returns:
        The split address; ``detail`` is always a suffix of ``text`` (leading separators removed).
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    index = (regions if regions is not None else load_regions())._index
    s = text.translate(_FOLD)

    start = lookup = _skip(s, 0)
    for country in ("中华人民共和国", "中国"):
        if s.startswith(country, start):
            lookup = _skip(s, start + len(country))
            break
    hit, pos = _longest(s, lookup, index.province_alias, index.province_lengths)
    province: Province | None = hit[0] if hit else None  # type: ignore[index]
    city: City | None = None
    city_name: str | None = None
    district: str | None = None

    if province is None:
        # No province: a listed city, or an unambiguous listed district, names it ("杭州市…", "浦东新区…").
        pos = lookup
        for length in index.city_lengths:
            key = s[pos : pos + length]
            found = index.global_city.get(key)
            if not found or len(found) != 1:
                continue
            owner, owner_city, official = found[0]
            if official or _city_short_is_a_city(s, pos + len(key), owner_city):
                province, city, city_name, pos = owner, owner_city, owner_city.name, pos + len(key)
                break
        if province is None:
            for length in index.district_lengths:
                key = s[pos : pos + length]
                holders = index.global_district.get(key)
                if holders:
                    if len(holders) == 1:
                        province, city = holders[0]
                        city_name, district, pos = city.name, key, pos + len(key)
                    break
        if province is None:
            return ParsedAddress(None, None, None, text[start:])
    else:
        pos = _skip(s, pos)
        city_hit, pos = _longest(s, pos, index.city_alias[province.name], index.city_lengths)
        if city_hit is not None:
            city = city_hit[0]  # type: ignore[index]
            city_name = city.name
        elif province.is_city_level:
            city = province.cities[0]
            city_name = city.name
        else:
            # City left out ("浙江省义乌市…"): a listed district names its city when unambiguous.
            for length in index.district_lengths:
                key = s[pos : pos + length]
                holders = index.province_districts[province.name].get(key)
                if holders:
                    if len(holders) == 1:
                        city = holders[0]
                        city_name, district, pos = city.name, key, pos + len(key)
                    break
            if city_name is None:
                end = _guess_city(s, pos)
                if end > 0:
                    city_name, pos = s[pos:end], end

    if district is None and city_name is not None:
        pos = _skip(s, pos)
        if s.startswith("市辖区", pos):
            pos = _skip(s, pos + 3)
        if city is not None:
            listed = index.districts[(province.name, city.name)]
            for length in index.district_lengths:
                key = s[pos : pos + length]
                if key in listed:
                    district, pos = key, pos + len(key)
                    break
        if district is None:
            end = _guess_district(s, pos)
            if end > 0:
                district, pos = s[pos:end], end
    elif district is None and city_name is None:
        # Province only, no recognisable city: maybe a county or district straight away.
        end = _guess_district(s, pos)
        if end > 0:
            district, pos = s[pos:end], end

    return ParsedAddress(province.name, city_name, district, text[_skip(s, pos):])
