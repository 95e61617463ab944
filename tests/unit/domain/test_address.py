"""Receiver addresses split into province / city / district / detail; the region dataset is sound."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.address import DEFAULT_REGIONS_PATH, ParsedAddress, load_regions, parse_address, province_short

REGIONS = load_regions()
EVERY_DISTRICT = [
    (p.name, p.short, c.name, d) for p in REGIONS.provinces for c in p.cities for d in c.districts
]


# --- the dataset -------------------------------------------------------------------------------


def test_the_dataset_has_all_34_provincial_level_divisions_including_taiwan_hong_kong_and_macau():
    names = [p.name for p in REGIONS.provinces]
    assert len(names) == len(set(names)) == 34
    assert {"台湾省", "香港特别行政区", "澳门特别行政区"} <= set(names)
    assert sum(n.endswith("省") for n in names) == 23
    assert sum(n.endswith("自治区") for n in names) == 5
    assert {n for n in names if n.endswith("市")} == {"北京市", "天津市", "上海市", "重庆市"}
    assert sum(n.endswith("特别行政区") for n in names) == 2


def test_every_adcode_is_six_digits_and_unique():
    codes = [p.adcode for p in REGIONS.provinces] + [c.adcode for p in REGIONS.provinces for c in p.cities]
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(codes) == len(set(codes))


def test_the_sar_and_taiwan_adcodes_are_the_gb_t_2260_ones():
    assert REGIONS.province("台湾省").adcode == "710000"
    assert REGIONS.province("香港特别行政区").adcode == "810000"
    assert REGIONS.province("澳门特别行政区").adcode == "820000"
    assert REGIONS.province("浙江省").adcode == "330000"


def test_a_city_adcode_sits_under_its_province_adcode():
    for province in REGIONS.provinces:
        assert province.adcode.endswith("0000")
        for city in province.cities:
            assert city.adcode[:2] == province.adcode[:2], city.name
            assert city.adcode.endswith("00") and city.adcode != province.adcode, city.name


def test_every_weight_is_positive_and_big_online_markets_outweigh_remote_ones():
    weight = {p.short: p.weight for p in REGIONS.provinces}
    assert all(w > 0 for w in weight.values())
    for big in ("广东", "浙江", "江苏"):
        for small in ("西藏", "青海", "宁夏", "台湾", "香港", "澳门"):
            assert weight[big] > weight[small]


def test_every_province_belongs_to_one_of_the_eight_sales_regions():
    allowed = {"华东", "华南", "华北", "华中", "西南", "西北", "东北", "港澳台"}
    assert {p.region for p in REGIONS.provinces} == allowed
    assert {p.short for p in REGIONS.provinces if p.region == "港澳台"} == {"台湾", "香港", "澳门"}


def test_municipalities_and_sars_are_their_own_single_city():
    for name in ("北京市", "天津市", "上海市", "重庆市", "香港特别行政区", "澳门特别行政区"):
        province = REGIONS.province(name)
        assert province.is_city_level
        assert [c.name for c in province.cities] == [name]


def test_provinces_have_two_to_five_cities_with_three_to_six_districts_and_three_to_five_streets():
    for province in REGIONS.provinces:
        if not province.is_city_level:
            assert 2 <= len(province.cities) <= 5, province.name
        for city in province.cities:
            assert 3 <= len(city.districts) <= 6, city.name
            assert 3 <= len(city.streets) <= 5, city.name
            assert len(set(city.districts)) == len(city.districts), city.name
            assert len(set(city.streets)) == len(city.streets), city.name


def test_the_raw_file_is_in_the_documented_shape():
    raw = json.loads(DEFAULT_REGIONS_PATH.read_text(encoding="utf-8"))
    keys = {"name", "short", "adcode", "weight", "region", "cities"}
    assert all(set(p) == keys for p in raw["provinces"])
    assert all(set(c) == {"name", "adcode", "districts", "streets"} for p in raw["provinces"] for c in p["cities"])


def test_the_dataset_is_loaded_once_and_cached():
    assert load_regions() is load_regions()
    assert load_regions(DEFAULT_REGIONS_PATH) is REGIONS


def test_a_dataset_can_be_loaded_from_another_file(tmp_path):
    path = tmp_path / "regions.json"
    path.write_text(json.dumps({"provinces": [{
        "name": "浙江省", "short": "浙江", "adcode": "330000", "weight": 1, "region": "华东",
        "cities": [{"name": "湖州市", "adcode": "330500", "districts": ["吴兴区"], "streets": ["人民路"]}],
    }]}, ensure_ascii=False), encoding="utf-8")
    regions = load_regions(path)
    assert [p.name for p in regions.provinces] == ["浙江省"]
    assert parse_address("浙江湖州吴兴区人民路1号", regions) == ParsedAddress("浙江省", "湖州市", "吴兴区", "人民路1号")


def test_a_file_that_is_not_a_region_dataset_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"provinces": [{"name": "浙江省"}]}', encoding="utf-8")
    with pytest.raises(ValueError):
        load_regions(path)


# --- province_short ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "short"), [
    ("浙江省", "浙江"), ("黑龙江省", "黑龙江"), ("广西壮族自治区", "广西"), ("内蒙古自治区", "内蒙古"),
    ("新疆维吾尔自治区", "新疆"), ("宁夏回族自治区", "宁夏"), ("西藏自治区", "西藏"), ("北京市", "北京"),
    ("重庆市", "重庆"), ("香港特别行政区", "香港"), ("澳门特别行政区", "澳门"), ("台湾省", "台湾"),
    ("浙江", "浙江"), (" 江苏省 ", "江苏"),
])
def test_the_short_name_drops_the_official_suffix(name, short):
    assert province_short(name) == short


def test_the_short_name_of_every_province_in_the_dataset_matches_its_short_field():
    assert all(province_short(p.name) == p.short for p in REGIONS.provinces)


# --- parse_address: real examples -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "province", "city", "district", "detail"), [
    ("浙江省杭州市西湖区文三路478号华星时代广场A座", "浙江省", "杭州市", "西湖区", "文三路478号华星时代广场A座"),
    ("江苏省苏州市姑苏区干将路1055号", "江苏省", "苏州市", "姑苏区", "干将路1055号"),
    ("广东省深圳市南山区科苑路15号科兴科学园B栋", "广东省", "深圳市", "南山区", "科苑路15号科兴科学园B栋"),
    ("四川省成都市武侯区人民南路四段11号", "四川省", "成都市", "武侯区", "人民南路四段11号"),
    ("湖北省武汉市洪山区珞喻路1037号", "湖北省", "武汉市", "洪山区", "珞喻路1037号"),
    ("山东省青岛市市南区香港中路10号", "山东省", "青岛市", "市南区", "香港中路10号"),
    ("山东省济南市市中区经十路", "山东省", "济南市", "市中区", "经十路"),
    ("河南省郑州市管城回族区紫荆山路", "河南省", "郑州市", "管城回族区", "紫荆山路"),
    ("青海省西宁市大通回族土族自治县桥头镇", "青海省", "西宁市", "大通回族土族自治县", "桥头镇"),
    ("福建省厦门市思明区湖滨南路", "福建省", "厦门市", "思明区", "湖滨南路"),
    ("台湾省台北市信义区信义路五段7号", "台湾省", "台北市", "信义区", "信义路五段7号"),
])
def test_a_full_official_address_is_split_into_its_levels(text, province, city, district, detail):
    assert parse_address(text) == ParsedAddress(province, city, district, detail)


@pytest.mark.parametrize(("text", "province", "city", "district", "detail"), [
    ("浙江杭州西湖区文三路478号", "浙江省", "杭州市", "西湖区", "文三路478号"),
    ("广西南宁市青秀区民族大道136号", "广西壮族自治区", "南宁市", "青秀区", "民族大道136号"),
    ("内蒙古呼和浩特市赛罕区新华大街", "内蒙古自治区", "呼和浩特市", "赛罕区", "新华大街"),
    ("新疆乌鲁木齐市天山区人民路", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", "人民路"),
    ("宁夏银川金凤区正源北街", "宁夏回族自治区", "银川市", "金凤区", "正源北街"),
    ("西藏拉萨城关区北京中路", "西藏自治区", "拉萨市", "城关区", "北京中路"),
    ("黑龙江哈尔滨道里区中央大街", "黑龙江省", "哈尔滨市", "道里区", "中央大街"),
    ("广西壮族自治区南宁市西乡塘区大学东路", "广西壮族自治区", "南宁市", "西乡塘区", "大学东路"),
    ("广西自治区柳州市城中区五一路", "广西壮族自治区", "柳州市", "城中区", "五一路"),
    ("内蒙古自治区包头市昆都仑区钢铁大街", "内蒙古自治区", "包头市", "昆都仑区", "钢铁大街"),
    ("香港九龙城区太子道西", "香港特别行政区", "香港特别行政区", "九龙城区", "太子道西"),
    ("澳门花地玛堂区友谊大马路", "澳门特别行政区", "澳门特别行政区", "花地玛堂区", "友谊大马路"),
])
def test_a_short_province_name_is_expanded_to_the_official_one(text, province, city, district, detail):
    assert parse_address(text) == ParsedAddress(province, city, district, detail)


@pytest.mark.parametrize(("text", "province", "district", "detail"), [
    ("北京市朝阳区建国路88号", "北京市", "朝阳区", "建国路88号"),
    ("北京朝阳区建国路88号", "北京市", "朝阳区", "建国路88号"),
    ("北京市北京市海淀区中关村大街27号", "北京市", "海淀区", "中关村大街27号"),
    ("北京市市辖区东城区王府井大街", "北京市", "东城区", "王府井大街"),
    ("上海浦东新区世纪大道100号", "上海市", "浦东新区", "世纪大道100号"),
    ("上海市黄浦区西藏中路", "上海市", "黄浦区", "西藏中路"),
    ("天津市滨海新区", "天津市", "滨海新区", ""),
    ("重庆市渝中区民族路", "重庆市", "渝中区", "民族路"),
    ("重庆市巫山县巫峡镇", "重庆市", "巫山县", "巫峡镇"),
    ("香港特别行政区九龙城区太子道西", "香港特别行政区", "九龙城区", "太子道西"),
    ("澳门特别行政区大堂区南湾大马路", "澳门特别行政区", "大堂区", "南湾大马路"),
])
def test_a_municipality_or_sar_is_its_own_city(text, province, district, detail):
    assert parse_address(text) == ParsedAddress(province, province, district, detail)


@pytest.mark.parametrize(("text", "expected"), [
    ("浙江省杭州市西湖区****", ParsedAddress("浙江省", "杭州市", "西湖区", "****")),
    ("浙江省杭州市西湖区文三路***号", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路***号")),
    ("广东省广州市天河区*******", ParsedAddress("广东省", "广州市", "天河区", "*******")),
    ("江苏省南京市****", ParsedAddress("江苏省", "南京市", None, "****")),
    ("上海上海市浦东新区**", ParsedAddress("上海市", "上海市", "浦东新区", "**")),
])
def test_a_masked_platform_address_keeps_the_mask_as_detail(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("浙江省 杭州市 西湖区 文三路478号", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路478号")),
    ("浙江 杭州 西湖区\u3000文三路", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路")),
    ("浙江省,杭州市,西湖区,文三路", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路")),
    ("  浙江省-杭州市-西湖区  文三路", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路")),
    ("中国浙江省杭州市余杭区文一西路969号", ParsedAddress("浙江省", "杭州市", "余杭区", "文一西路969号")),
    ("中国 广东省深圳市福田区深南大道", ParsedAddress("广东省", "深圳市", "福田区", "深南大道")),
])
def test_spaces_punctuation_and_a_country_prefix_between_levels_are_skipped(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("浙江省丽水市莲都区丽阳街道", ParsedAddress("浙江省", "丽水市", "莲都区", "丽阳街道")),
    ("江苏省苏州市张家港市杨舍镇", ParsedAddress("江苏省", "苏州市", "张家港市", "杨舍镇")),
    ("广东省东莞市东城街道", ParsedAddress("广东省", "东莞市", None, "东城街道")),
    ("湖北省恩施土家族苗族自治州恩施市舞阳大街", ParsedAddress("湖北省", "恩施土家族苗族自治州", "恩施市", "舞阳大街")),
    ("四川省阿坝藏族羌族自治州汶川县威州镇", ParsedAddress("四川省", "阿坝藏族羌族自治州", "汶川县", "威州镇")),
    ("内蒙古自治区兴安盟乌兰浩特市五一路", ParsedAddress("内蒙古自治区", "兴安盟", "乌兰浩特市", "五一路")),
    ("内蒙古呼伦贝尔市鄂温克族自治旗巴彦托海镇", ParsedAddress("内蒙古自治区", "呼伦贝尔市", "鄂温克族自治旗", "巴彦托海镇")),
    ("新疆阿克苏地区库车市天山路", ParsedAddress("新疆维吾尔自治区", "阿克苏地区", "库车市", "天山路")),
    ("青海省海南藏族自治州共和县", ParsedAddress("青海省", "海南藏族自治州", "共和县", "")),
    ("河北省张家口市桥东区胜利北路", ParsedAddress("河北省", "张家口市", "桥东区", "胜利北路")),
    ("浙江省杭州市临平区南苑街道", ParsedAddress("浙江省", "杭州市", "临平区", "南苑街道")),
    ("广东省湛江市", ParsedAddress("广东省", "湛江市", None, "")),
])
def test_an_unlisted_city_or_district_is_recognised_by_its_suffix(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("浙江省义乌市稠城街道", ParsedAddress("浙江省", "金华市", "义乌市", "稠城街道")),
    ("云南省大理市下关镇", ParsedAddress("云南省", "大理白族自治州", "大理市", "下关镇")),
    ("杭州市西湖区文三路", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路")),
    ("杭州西湖区文三路", ParsedAddress("浙江省", "杭州市", "西湖区", "文三路")),
    ("吉林市船营区解放中路", ParsedAddress("吉林省", "吉林市", "船营区", "解放中路")),
    ("吉林省吉林市船营区", ParsedAddress("吉林省", "吉林市", "船营区", "")),
    ("大理市下关镇", ParsedAddress("云南省", "大理白族自治州", "大理市", "下关镇")),
    ("浦东新区张江路", ParsedAddress("上海市", "上海市", "浦东新区", "张江路")),
    ("延边州延吉市光明街", ParsedAddress("吉林省", "延边朝鲜族自治州", "延吉市", "光明街")),
    ("广西北海市海城区北部湾中路", ParsedAddress("广西壮族自治区", "北海市", "海城区", "北部湾中路")),
])
def test_a_listed_city_or_district_fills_in_the_levels_left_out(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(("text", "city"), [
    ("江苏省南京市鼓楼区中山路", "南京市"),
    ("江苏省徐州市鼓楼区中山北路", "徐州市"),
    ("福建省福州市鼓楼区五四路", "福州市"),
    ("吉林省长春市朝阳区人民大街", "长春市"),
])
def test_a_district_name_shared_by_several_cities_is_kept_with_the_city_written(text, city):
    parsed = parse_address(text)
    assert parsed.city == city
    assert parsed.district in ("鼓楼区", "朝阳区")


@pytest.mark.parametrize("text", ["朝阳区建国路88号", "鼓楼区中山路", "西湖区文三路"])
def test_an_ambiguous_district_alone_is_not_guessed(text):
    assert parse_address(text) == ParsedAddress(None, None, None, text)


@pytest.mark.parametrize("text", [
    "山东路123号", "北京路1号", "湖南路8号", "西藏北路100号", "四川北路1885号", "江西中路", "上海路5号",
])
def test_a_street_named_after_a_province_is_not_taken_for_the_province(text):
    assert parse_address(text) == ParsedAddress(None, None, None, text)


@pytest.mark.parametrize(("text", "detail"), [
    ("浙江省杭州市农贸市场3号", "农贸市场3号"),
    ("浙江省杭州市阳光小区3栋", "阳光小区3栋"),
    ("浙江省杭州市城市花园5幢", "城市花园5幢"),
    ("浙江省杭州市文三路478号", "文三路478号"),
])
def test_a_place_inside_a_city_is_not_taken_for_a_district(text, detail):
    assert parse_address(text) == ParsedAddress("浙江省", "杭州市", None, detail)


@pytest.mark.parametrize(("text", "expected"), [
    ("臺灣臺北市信義區信義路五段7號", ParsedAddress("台湾省", "台北市", "信义区", "信義路五段7號")),
    ("香港九龍城區太子道西", ParsedAddress("香港特别行政区", "香港特别行政区", "九龙城区", "太子道西")),
    ("澳門特別行政區風順堂區", ParsedAddress("澳门特别行政区", "澳门特别行政区", "风顺堂区", "")),
])
def test_traditional_characters_in_sar_and_taiwan_addresses_are_understood(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", [
    "", " ", "\u3000\t\n", "😀", "😀浙江省", "Room 1201, 88 Jianguo Road", "****", "123456",
    "收货人：张三", "中国", "中华人民共和国", "不知道什么地方", "\x00\ud800", "市区县旗盟", "自治州自治州",
])
def test_unknown_text_gives_empty_levels_instead_of_an_error(text):
    parsed = parse_address(text)
    assert (parsed.province, parsed.city, parsed.district) == (None, None, None)
    assert text.endswith(parsed.detail)


def test_a_non_string_is_treated_as_text_instead_of_raising():
    assert parse_address(None) == ParsedAddress(None, None, None, "")  # type: ignore[arg-type]


@pytest.mark.parametrize(("province", "short", "city", "district"), EVERY_DISTRICT)
def test_every_listed_district_round_trips_with_official_and_short_names(province, short, city, district):
    is_city_level = city == province
    official = f"{province}{'' if is_city_level else city}{district}人民路1号"
    assert parse_address(official) == ParsedAddress(province, city, district, "人民路1号")
    informal = f"{short} {'' if is_city_level else city} {district} 1号"
    assert parse_address(informal) == ParsedAddress(province, city, district, "1号")


# --- parse_address: properties -------------------------------------------------------------------

DISTRICTS = st.sampled_from(EVERY_DISTRICT)
DETAIL = st.text(alphabet="0123456789ABC*号室栋单元-", max_size=20).filter(lambda t: not t.startswith("-"))


@given(st.text())
def test_parsing_never_raises_and_detail_is_a_suffix_of_the_input(text):
    parsed = parse_address(text)
    assert isinstance(parsed, ParsedAddress)
    assert text.endswith(parsed.detail)


@given(st.text(alphabet=st.sampled_from("浙江省杭州市西湖区北京上海广西壮族自治区内蒙古香港特别行政路号 *,1")))
def test_parsing_region_words_in_any_order_never_raises_and_keeps_a_suffix(text):
    parsed = parse_address(text)
    assert text.endswith(parsed.detail)
    assert parsed.province is None or REGIONS.province(parsed.province) is not None


@given(DISTRICTS, DETAIL, st.sampled_from(["", " ", ",", "\u3000"]))
def test_a_composed_address_is_split_back_into_its_parts(place, detail, sep):
    province, _short, city, district = place
    text = sep.join([province] + ([] if city == province else [city]) + [district]) + sep + detail
    assert parse_address(text) == ParsedAddress(province, city, district, detail)
