namespace Fleet.Core.Roads;

/// <summary>A region with a road network: GB/T 2260 code, seat coordinates and typical altitude.</summary>
public sealed record RegionInfo(string Code, string Name, GeoPoint Centre, double AltitudeMetres);

/// <summary>
/// The 盟市 of Inner Mongolia by plate prefix (蒙A Hohhot …), with their seats' coordinates and altitude: the fallback
/// when no database is given. 蒙A covers both the province's and Hohhot's own departments; both sit in Hohhot.
/// </summary>
public static class RegionCatalog
{
    public static readonly RegionInfo Hohhot = new("150100", "呼和浩特市", new(40.8400, 111.7500), 1050);

    private static readonly Dictionary<string, RegionInfo> ByPrefix = new(StringComparer.Ordinal)
    {
        ["蒙A"] = Hohhot,
        ["蒙B"] = new("150200", "包头市", new(40.6570, 109.8400), 1065),
        ["蒙C"] = new("150300", "乌海市", new(39.6550, 106.7950), 1100),
        ["蒙D"] = new("150400", "赤峰市", new(42.2580, 118.8870), 570),
        ["蒙G"] = new("150500", "通辽市", new(43.6170, 122.2630), 180),
        ["蒙K"] = new("150600", "鄂尔多斯市", new(39.6080, 109.7810), 1350),
        ["蒙E"] = new("150700", "呼伦贝尔市", new(49.2120, 119.7660), 620),
        ["蒙L"] = new("150800", "巴彦淖尔市", new(40.7430, 107.3880), 1040),
        ["蒙J"] = new("150900", "乌兰察布市", new(41.0000, 113.1330), 1400),
        ["蒙F"] = new("152200", "兴安盟", new(46.0770, 122.0680), 280),
        ["蒙H"] = new("152500", "锡林郭勒盟", new(43.9330, 116.0860), 990),
        ["蒙M"] = new("152900", "阿拉善盟", new(38.8440, 105.7060), 1560),
    };

    private static readonly Dictionary<string, RegionInfo> ByCode = ByPrefix.Values
        .DistinctBy(r => r.Code)
        .ToDictionary(r => r.Code, StringComparer.Ordinal);

    /// <summary>The region of a plate; unknown prefixes (test plates, other provinces) fall back to Hohhot.</summary>
    public static RegionInfo ForPlate(string plate) =>
        plate.Length >= 2 && ByPrefix.TryGetValue(plate[..2], out var region) ? region : Hohhot;

    /// <summary>The typical altitude of a region code, for regions read from the database.</summary>
    public static double AltitudeOf(string code) => ByCode.TryGetValue(code, out var region) ? region.AltitudeMetres : 1000;
}
