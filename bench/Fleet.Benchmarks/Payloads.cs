using System.Globalization;
using System.Text;
using Fleet.Core.Telemetry;

namespace Fleet.Benchmarks;

/// <summary>Terminal payloads shaped like the simulator's (DESIGN.md, protocol v1): the fields a real 0x0200 report carries.</summary>
internal static class Payloads
{
    /// <summary>A fixed "now", so every run parses the same bytes; reports are a few seconds older.</summary>
    public static readonly long NowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static string OneReport(long nowMs, int i = 0) => string.Create(
        CultureInfo.InvariantCulture,
        $"{{\"ts\":{nowMs - 2000 + i},\"seq\":{1000 + i},\"lat\":{40.84123 + (i * 1e-5):F6},\"lon\":{111.75234 + (i * 1e-5):F6},\"spd\":42.5,\"hdg\":127,\"alt\":1052.3,\"acc\":true,\"odo\":48213.7,\"fuel\":63.5,\"sats\":11,\"hdop\":0.9}}");

    /// <summary>The i-th fix of a COPY batch: the fields of <see cref="OneReport"/>, 10 ms apart, no state of charge.</summary>
    public static TelemetryFix BatchFix(long nowMs, int i) => new()
    {
        Ts = nowMs - (i * 10),
        Seq = (uint)i,
        Lat = 40.84 + (i * 1e-5),
        Lon = 111.75 + (i * 1e-5),
        Spd = 42.5f,
        Hdg = 127,
        Alt = 1052.3f,
        Acc = true,
        Odo = 48213.7,
        Fuel = 63.5f,
        Soc = float.NaN,
        Sats = 11,
        Hdop = 0.9f,
    };

    public static string Backlog(long nowMs, int count)
    {
        var builder = new StringBuilder("[");
        for (var i = 0; i < count; i++)
        {
            builder.Append(i == 0 ? string.Empty : ",").Append(OneReport(nowMs - (count * 1000), i * 1000));
        }

        return builder.Append(']').ToString();
    }
}
