namespace Fleet.Silo.Registry;

/// <summary>What kind of work a department does; it decides the department's vehicle category mix.</summary>
internal enum DepartmentKind
{
    /// <summary>公安: mostly 执法执勤 vehicles, with police (警) plates.</summary>
    Police,

    /// <summary>综合执法, 市场监管, 生态环境, 自然资源, 交通运输, 林草: a mix of 执法执勤 and general vehicles.</summary>
    Enforcement,

    /// <summary>应急管理: mostly 应急保障 vehicles.</summary>
    Emergency,

    /// <summary>财政 and other administrative departments: general vehicles.</summary>
    Administration,

    /// <summary>机关事务管理局: the pool that also keeps leader, directed-support and confidential vehicles.</summary>
    Logistics,

    /// <summary>卫生健康: special technical and emergency vehicles.</summary>
    Health,

    /// <summary>水利: special technical vehicles.</summary>
    Technical,
}

/// <summary>A 盟市 (or the province) with its GB/T 2260 code, seat coordinates (WGS-84) and plate prefix.</summary>
internal sealed record RegionSpec(
    string Code,
    string Name,
    string Level,
    double Lat,
    double Lon,
    string PlatePrefix,
    string City,
    string[] Districts,
    string[] Streets);

internal sealed record DepartmentSpec(string RegionCode, string Name, DepartmentKind Kind, int Weight, int? Zone);

internal sealed record ZoneSpec(string RegionCode, string Name);

/// <summary>A vehicle model on the demo market: the maker's VIN WMI, energy, seats and which categories use it.</summary>
internal sealed record ModelSpec(string Name, string Wmi, string Energy, short Seats, int Weight, string[] Categories);

/// <summary>
/// The fixed facts of the demo province: 内蒙古自治区 and its twelve 盟市 (real codes, seats and plate prefixes),
/// forty departments, four office zones and a model catalogue. Everything random is drawn from these.
/// </summary>
internal static class DemoProvinceData
{
    public const string ProvinceCode = "150000";

    public static readonly string[] Categories =
        ["general", "confidential_comms", "emergency", "law_enforcement", "special_technical", "leader", "directed_support"];

    // Seat coordinates are the 盟市 government seats, approximate (WGS-84). The province's departments sit in Hohhot,
    // so its "centre" is the 自治区 government compound on 新华大街.
    public static readonly RegionSpec[] Regions =
    [
        new(ProvinceCode, "内蒙古自治区", "province", 40.8175, 111.6700, "蒙A", "呼和浩特市", ["新城区", "回民区", "赛罕区"], ["新华大街", "中山西路", "敕勒川大街", "北垣东街"]),
        new("150100", "呼和浩特市", "league_city", 40.8400, 111.7500, "蒙A", "呼和浩特市", ["新城区", "回民区", "玉泉区", "赛罕区"], ["新华大街", "中山东路", "昭乌达路", "鄂尔多斯大街", "成吉思汗大街", "呼伦贝尔南路"]),
        new("150200", "包头市", "league_city", 40.6570, 109.8400, "蒙B", "包头市", ["昆都仑区", "青山区", "东河区", "九原区"], ["钢铁大街", "阿尔丁大街", "民族东路", "建设路", "幸福南路"]),
        new("150300", "乌海市", "league_city", 39.6550, 106.7950, "蒙C", "乌海市", ["海勃湾区", "乌达区", "海南区"], ["黄河东街", "滨河大道", "人民路"]),
        new("150400", "赤峰市", "league_city", 42.2580, 118.8870, "蒙D", "赤峰市", ["松山区", "红山区", "元宝山区"], ["玉龙大街", "临潢大街", "哈达街", "新华路"]),
        new("150500", "通辽市", "league_city", 43.6170, 122.2630, "蒙G", "通辽市", ["科尔沁区"], ["霍林河大街", "建国路", "民主路", "和平路"]),
        new("150600", "鄂尔多斯市", "league_city", 39.6080, 109.7810, "蒙K", "鄂尔多斯市", ["康巴什区", "东胜区"], ["北环路", "鄂尔多斯大街", "伊金霍洛西街", "天骄路"]),
        new("150700", "呼伦贝尔市", "league_city", 49.2120, 119.7660, "蒙E", "呼伦贝尔市", ["海拉尔区"], ["胜利大街", "中央街", "河东新区大街"]),
        new("150800", "巴彦淖尔市", "league_city", 40.7430, 107.3880, "蒙L", "巴彦淖尔市", ["临河区"], ["胜利北路", "新华街", "利民街"]),
        new("150900", "乌兰察布市", "league_city", 41.0000, 113.1330, "蒙J", "乌兰察布市", ["集宁区"], ["新华街", "察哈尔大街", "工农大街"]),
        new("152200", "兴安盟", "league_city", 46.0770, 122.0680, "蒙F", "兴安盟", ["乌兰浩特市"], ["兴安南大路", "五一北路", "罕山街"]),
        new("152500", "锡林郭勒盟", "league_city", 43.9330, 116.0860, "蒙H", "锡林郭勒盟", ["锡林浩特市"], ["锡林大街", "额尔敦路", "那达慕大街"]),
        new("152900", "阿拉善盟", "league_city", 38.8440, 105.7060, "蒙M", "阿拉善盟", ["阿拉善左旗巴彦浩特镇"], ["土尔扈特路", "安德街", "王府街"]),
    ];

    public static readonly ZoneSpec[] Zones =
    [
        new(ProvinceCode, "自治区直属机关相对集中办公区"),
        new("150100", "呼和浩特市行政中心相对集中办公区"),
        new("150200", "包头市行政中心相对集中办公区"),
        new("150600", "鄂尔多斯市康巴什行政中心相对集中办公区"),
    ];

    // Weights are relative fleet sizes: police and the provincial pool are the large ones.
    public static readonly DepartmentSpec[] Departments =
    [
        new(ProvinceCode, "内蒙古自治区财政厅", DepartmentKind.Administration, 5, 0),
        new(ProvinceCode, "内蒙古自治区公安厅", DepartmentKind.Police, 7, null),
        new(ProvinceCode, "内蒙古自治区机关事务管理局", DepartmentKind.Logistics, 9, 0),
        new(ProvinceCode, "内蒙古自治区应急管理厅", DepartmentKind.Emergency, 5, 0),
        new(ProvinceCode, "内蒙古自治区自然资源厅", DepartmentKind.Enforcement, 5, 0),
        new(ProvinceCode, "内蒙古自治区生态环境厅", DepartmentKind.Enforcement, 4, 0),
        new(ProvinceCode, "内蒙古自治区交通运输厅", DepartmentKind.Enforcement, 5, null),
        new(ProvinceCode, "内蒙古自治区卫生健康委员会", DepartmentKind.Health, 4, null),
        new(ProvinceCode, "内蒙古自治区市场监督管理局", DepartmentKind.Enforcement, 5, null),
        new(ProvinceCode, "内蒙古自治区林业和草原局", DepartmentKind.Enforcement, 5, null),
        new("150100", "呼和浩特市公安局", DepartmentKind.Police, 8, null),
        new("150100", "呼和浩特市财政局", DepartmentKind.Administration, 4, 1),
        new("150100", "呼和浩特市城市管理综合执法局", DepartmentKind.Enforcement, 6, null),
        new("150100", "呼和浩特市应急管理局", DepartmentKind.Emergency, 4, 1),
        new("150100", "呼和浩特市交通运输局", DepartmentKind.Enforcement, 4, 1),
        new("150100", "呼和浩特市卫生健康委员会", DepartmentKind.Health, 3, 1),
        new("150200", "包头市公安局", DepartmentKind.Police, 7, null),
        new("150200", "包头市应急管理局", DepartmentKind.Emergency, 4, 2),
        new("150200", "包头市财政局", DepartmentKind.Administration, 4, 2),
        new("150200", "包头市生态环境局", DepartmentKind.Enforcement, 3, 2),
        new("150200", "包头市市场监督管理局", DepartmentKind.Enforcement, 4, null),
        new("150600", "鄂尔多斯市公安局", DepartmentKind.Police, 6, null),
        new("150600", "鄂尔多斯市自然资源局", DepartmentKind.Enforcement, 4, 3),
        new("150600", "鄂尔多斯市财政局", DepartmentKind.Administration, 4, 3),
        new("150600", "鄂尔多斯市应急管理局", DepartmentKind.Emergency, 4, 3),
        new("150400", "赤峰市公安局", DepartmentKind.Police, 6, null),
        new("150400", "赤峰市财政局", DepartmentKind.Administration, 4, null),
        new("150400", "赤峰市林业和草原局", DepartmentKind.Enforcement, 4, null),
        new("150500", "通辽市公安局", DepartmentKind.Police, 5, null),
        new("150500", "通辽市财政局", DepartmentKind.Administration, 4, null),
        new("150700", "呼伦贝尔市公安局", DepartmentKind.Police, 5, null),
        new("150700", "呼伦贝尔市林业和草原局", DepartmentKind.Enforcement, 5, null),
        new("150800", "巴彦淖尔市公安局", DepartmentKind.Police, 4, null),
        new("150800", "巴彦淖尔市水利局", DepartmentKind.Technical, 3, null),
        new("150900", "乌兰察布市公安局", DepartmentKind.Police, 4, null),
        new("150900", "乌兰察布市财政局", DepartmentKind.Administration, 3, null),
        new("150300", "乌海市公安局", DepartmentKind.Police, 3, null),
        new("152200", "兴安盟公安局", DepartmentKind.Police, 3, null),
        new("152500", "锡林郭勒盟公安局", DepartmentKind.Police, 4, null),
        new("152900", "阿拉善盟公安局", DepartmentKind.Police, 3, null),
    ];

    /// <summary>Category weights per department kind, in the order of <see cref="Categories"/>.</summary>
    public static int[] CategoryWeights(DepartmentKind kind) => kind switch
    {
        //                                     gen  conf emer law  spec lead dir
        DepartmentKind.Police => [14, 2, 4, 76, 4, 0, 0],
        DepartmentKind.Enforcement => [52, 0, 5, 35, 8, 0, 0],
        DepartmentKind.Emergency => [35, 0, 55, 0, 10, 0, 0],
        DepartmentKind.Administration => [90, 6, 4, 0, 0, 0, 0],
        DepartmentKind.Logistics => [60, 12, 4, 0, 0, 12, 12],
        DepartmentKind.Health => [50, 0, 25, 0, 25, 0, 0],
        DepartmentKind.Technical => [45, 0, 15, 0, 40, 0, 0],
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Share (per mille) of new-energy vehicles per category, in the order of <see cref="Categories"/>.</summary>
    public static readonly int[] NewEnergyPerMille = [360, 150, 80, 240, 60, 250, 300];

    // WMIs are the makers' real ones (SAIC-VW LSV, FAW-VW LFV, FAW 红旗 LFP, BYD LGX, GAC Toyota LVG, GAC Honda LHG,
    // SAIC-GM LSG, Great Wall LGW, FAW Toyota LFM, Changan LS5, BAIC LNB, Geely L6T, SAIC Maxus LSK, Yutong LZY).
    public static readonly ModelSpec[] Models =
    [
        new("大众帕萨特", "LSV", "gasoline", 5, 10, ["general", "confidential_comms"]),
        new("大众朗逸", "LSV", "gasoline", 5, 10, ["general", "law_enforcement"]),
        new("大众迈腾", "LFV", "gasoline", 5, 8, ["general", "confidential_comms", "directed_support"]),
        new("大众途观L", "LSV", "gasoline", 5, 6, ["general", "law_enforcement", "emergency"]),
        new("红旗H5", "LFP", "gasoline", 5, 8, ["general", "confidential_comms", "directed_support", "leader"]),
        new("红旗H9", "LFP", "gasoline", 5, 6, ["leader"]),
        new("丰田凯美瑞双擎", "LVG", "hybrid", 5, 6, ["general", "leader", "directed_support"]),
        new("本田雅阁", "LHG", "gasoline", 5, 5, ["general"]),
        new("别克GL8", "LSG", "gasoline", 7, 6, ["general", "directed_support", "leader", "confidential_comms"]),
        new("长安逸动", "LS5", "gasoline", 5, 6, ["general", "law_enforcement"]),
        new("哈弗H6", "LGW", "gasoline", 5, 8, ["general", "law_enforcement", "emergency"]),
        new("长城炮", "LGW", "diesel", 5, 6, ["emergency", "special_technical", "law_enforcement"]),
        new("丰田普拉多", "LFM", "gasoline", 7, 5, ["emergency", "law_enforcement", "special_technical"]),
        new("上汽大通V90", "LSK", "diesel", 9, 5, ["emergency", "special_technical", "confidential_comms"]),
        new("宇通ZK6609", "LZY", "diesel", 19, 2, ["general", "special_technical"]),
        new("红旗E-QM5", "LFP", "bev", 5, 6, ["general", "directed_support", "leader", "confidential_comms"]),
        new("比亚迪汉EV", "LGX", "bev", 5, 6, ["general", "law_enforcement", "leader", "directed_support"]),
        new("比亚迪秦PLUS EV", "LGX", "bev", 5, 8, ["general", "law_enforcement"]),
        new("比亚迪秦PLUS DM-i", "LGX", "phev", 5, 6, ["general", "law_enforcement"]),
        new("比亚迪宋PLUS DM-i", "LGX", "phev", 5, 5, ["general", "law_enforcement", "emergency", "special_technical"]),
        new("比亚迪唐EV", "LGX", "bev", 7, 3, ["law_enforcement", "emergency"]),
        new("吉利帝豪EV", "L6T", "bev", 5, 5, ["general"]),
        new("北汽EU5", "LNB", "bev", 5, 4, ["general", "law_enforcement"]),
        new("上汽大通EUNIQ7燃料电池", "LSK", "fcev", 7, 1, ["general"]),
    ];

    /// <summary>Common surnames; the first twenty are listed twice, roughly as much more frequent as they are.</summary>
    public static readonly string[] Surnames =
    [
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗",
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗",
        "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "程", "曹", "袁", "邓", "许", "沈", "曾", "彭", "吕", "苏", "卢",
        "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "阎", "潘", "杜", "戴", "夏", "田", "任", "姜", "范", "石", "姚", "谭", "金",
        "陆", "郝", "孔", "白", "崔", "康", "毛", "邱", "秦", "史", "侯", "孟", "段", "雷", "武", "乔", "贺", "常", "云", "包",
    ];

    public static readonly string[] GivenNames =
    [
        "伟", "强", "军", "磊", "勇", "杰", "涛", "斌", "鹏", "辉", "刚", "明", "超", "亮", "平", "波", "峰", "龙", "丽", "敏",
        "建国", "建华", "志强", "海涛", "晓东", "永刚", "文博", "俊峰", "志刚", "卫东", "国庆", "宏伟", "春雷", "建军", "海龙",
        "利军", "振华", "国强", "晓明", "立新", "红军", "文斌", "永平", "德胜", "保国", "长青", "鑫", "浩然", "子豪", "晓燕",
    ];

    /// <summary>Mongolian names, written without a surname as is common in Inner Mongolia.</summary>
    public static readonly string[] MongolianNames =
    [
        "巴特尔", "额尔敦", "苏和", "那顺", "乌力吉", "宝音", "朝鲁", "孟和", "巴图", "阿拉坦", "毕力格", "斯琴",
        "其木格", "格日勒", "图门", "吉日嘎拉", "额尔敦巴雅尔", "巴雅尔图", "乌日图", "哈斯", "特木尔", "敖其尔",
    ];

    public static readonly string[] PhonePrefixes =
    [
        "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157", "158",
        "159", "176", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "199",
    ];

    /// <summary>Licence classes with weights: mostly C1 (cars), some bus and truck classes.</summary>
    public static readonly (string Class, int Weight)[] LicenceClasses =
        [("C1", 70), ("B2", 10), ("A1", 8), ("B1", 5), ("A2", 4), ("C2", 3)];
}
