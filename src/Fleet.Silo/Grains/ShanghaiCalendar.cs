namespace Fleet.Silo.Grains;

/// <summary>Calendar days in Asia/Shanghai (the regulations' time zone), from epoch milliseconds.</summary>
internal static class ShanghaiCalendar
{
    public static readonly TimeZoneInfo Zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");

    public static DateOnly DateOf(long epochMs) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(DateTime.UnixEpoch.AddMilliseconds(epochMs), Zone));

    /// <summary>The UTC bounds [start, end) of a local day, so grains can test "same day" without converting each fix.</summary>
    public static (long StartMs, long EndMs) Bounds(DateOnly date)
    {
        var start = TimeZoneInfo.ConvertTimeToUtc(date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified), Zone);
        var end = TimeZoneInfo.ConvertTimeToUtc(date.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified), Zone);
        return ((long)(start - DateTime.UnixEpoch).TotalMilliseconds, (long)(end - DateTime.UnixEpoch).TotalMilliseconds);
    }
}
