using System.Globalization;
using System.Text.RegularExpressions;

namespace Fleet.Web.Api;

/// <summary>Asia/Shanghai, the time of every rule and report, and ISO-8601 parsing of query times.</summary>
public static partial class ShanghaiTime
{
    /// <summary>
    /// The years a query time may have. Outside them there are no reports, and the arithmetic near the ends of
    /// <see cref="DateTimeOffset"/> (a default range of a day after 9999-12-31, an offset before year 1) would throw.
    /// </summary>
    public const int MinYear = 1970;

    public const int MaxYear = 2999;

    public static readonly TimeZoneInfo Zone = FindZone();

    /// <summary>
    /// Parses an ISO-8601 date or date-time. With <c>Z</c> or an offset it is that instant; without one it is a
    /// wall-clock time in Asia/Shanghai, because that is what the zh-CN UI means by "08:00". The year, as written
    /// (before any offset is applied), must be from <see cref="MinYear"/> to <see cref="MaxYear"/>.
    /// </summary>
    public static bool TryParseIso(string raw, out DateTimeOffset value)
    {
        value = default;
        if (!IsoShape().IsMatch(raw)
            || !int.TryParse(raw.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            || year is < MinYear or > MaxYear
            || !DateTime.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }

        value = parsed.Kind == DateTimeKind.Unspecified
            ? new DateTimeOffset(parsed, Zone.GetUtcOffset(parsed))
            : new DateTimeOffset(DateTime.SpecifyKind(parsed, DateTimeKind.Utc));
        return true;
    }

    /// <summary>Midnight that starts the Asia/Shanghai day containing <paramref name="now"/>.</summary>
    public static DateTimeOffset StartOfDay(DateTimeOffset now)
    {
        var local = TimeZoneInfo.ConvertTime(now, Zone);
        return new DateTimeOffset(local.Date, local.Offset);
    }

    private static TimeZoneInfo FindZone()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        }
        catch (TimeZoneNotFoundException)
        {
            // No tzdata on the machine: China has kept UTC+8 without daylight saving since 1991.
            return TimeZoneInfo.CreateCustomTimeZone("Asia/Shanghai", TimeSpan.FromHours(8), "China Standard Time", "CST");
        }
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoShape();
}
