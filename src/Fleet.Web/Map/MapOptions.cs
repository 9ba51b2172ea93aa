using Fleet.Core.Roads;
using Microsoft.Extensions.Options;

namespace Fleet.Web.Map;

/// <summary>
/// Bound from <c>Fleet:Map</c>: the basemap the page loads and where it starts. Without <see cref="TileUrl"/> the page
/// draws no tiles, only Fleet's own layers (regions, office zones, lots), so it works with no map server at all.
/// </summary>
public sealed class MapOptions
{
    public const string Section = "Fleet:Map";

    /// <summary>
    /// A Leaflet tile URL template with <c>{z}</c>, <c>{x}</c> and <c>{y}</c> (and <c>{s}</c> for subdomains), absolute
    /// http(s) or relative to the site (<c>/tiles/{z}/{x}/{y}.png</c>). Web Mercator (EPSG:3857) tiles, e.g. 天地图's
    /// <c>vec_w</c> layer or an internal tile server. A key in the URL (天地图's <c>tk</c>) is a browser key by design:
    /// every client sees it.
    /// </summary>
    public string? TileUrl { get; set; }

    /// <summary>The attribution the tile provider requires, shown in the map's corner (HTML is escaped).</summary>
    public string? Attribution { get; set; }

    /// <summary>The subdomains substituted for <c>{s}</c>, one character each (天地图: "01234567").</summary>
    public string? Subdomains { get; set; }

    public int MaxZoom { get; set; } = 18;

    /// <summary>Where the map starts before any vehicle is known: Hohhot.</summary>
    public double CenterLat { get; set; } = 40.84;

    public double CenterLon { get; set; } = 111.75;

    public int Zoom { get; set; } = 6;

    /// <summary>
    /// The seed of the road networks <c>/api/map/roads</c> draws. It must match the simulator's <c>--seed</c> for the
    /// map to show the roads the simulated vehicles drive on; both default to the same value.
    /// </summary>
    public int RoadSeed { get; set; } = RoadNetworkGenerator.DefaultSeed;
}

public sealed class MapOptionsValidator : IValidateOptions<MapOptions>
{
    public ValidateOptionsResult Validate(string? name, MapOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.TileUrl))
        {
            var url = options.TileUrl.Trim();
            var absolute = url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase);
            var relative = url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal);
            if (!absolute && !relative)
            {
                failures.Add($"{MapOptions.Section}:TileUrl must be an http(s) URL or start with '/', got '{url}'.");
            }

            foreach (var placeholder in new[] { "{z}", "{x}", "{y}" })
            {
                if (!url.Contains(placeholder, StringComparison.Ordinal))
                {
                    failures.Add($"{MapOptions.Section}:TileUrl must contain {placeholder}.");
                }
            }
        }

        if (options.MaxZoom is < 1 or > 22)
        {
            failures.Add($"{MapOptions.Section}:MaxZoom must be between 1 and 22, got {options.MaxZoom}.");
        }

        if (options.Zoom < 1 || options.Zoom > options.MaxZoom)
        {
            failures.Add($"{MapOptions.Section}:Zoom must be between 1 and MaxZoom, got {options.Zoom}.");
        }

        if (options.CenterLat is < -85 or > 85 || options.CenterLon is < -180 or > 180)
        {
            failures.Add($"{MapOptions.Section}:CenterLat/CenterLon must be a WGS-84 position.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
