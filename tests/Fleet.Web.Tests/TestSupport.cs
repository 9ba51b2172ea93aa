using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Core.Telemetry;
using Fleet.Silo.Shards;
using Fleet.Web.Vehicles;

namespace Fleet.Web.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>Live reports stamped now, each strictly after every earlier one from the same instance.</summary>
internal sealed class LiveReports
{
    private long _lastTs;

    public InboundReport Fix(long vehicleId, double lat, double lon, float spd = float.NaN, short hdg = -1, bool? acc = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        long ts;
        long last;
        do
        {
            last = Interlocked.Read(ref _lastTs);
            ts = Math.Max(now, last + 1);
        }
        while (Interlocked.CompareExchange(ref _lastTs, ts, last) != last);

        var fix = new TelemetryFix
        {
            Ts = ts,
            Lat = lat,
            Lon = lon,
            Spd = spd,
            Hdg = hdg,
            Alt = float.NaN,
            Acc = acc,
            Odo = double.NaN,
            Fuel = float.NaN,
            Soc = float.NaN,
            Sats = -1,
            Hdop = float.NaN,
        };
        return new InboundReport(vehicleId, fix, now, default);
    }
}

/// <summary>Live states set by the test, standing in for the shard host.</summary>
internal sealed class FakeLiveStates : ILiveStateReader
{
    private readonly ConcurrentDictionary<long, LiveVehicle> _states = new();

    public IEnumerable<LiveVehicle> All => _states.Values;

    public void Set(LiveVehicle state) => _states[state.VehicleId] = state;

    public bool TryGet(long vehicleId, [MaybeNullWhen(false)] out LiveVehicle state) => _states.TryGetValue(vehicleId, out state);
}

/// <summary>A response read whole: status, headers and the body parsed as JSON (undefined when empty).</summary>
internal sealed record ApiResponse(HttpStatusCode Status, HttpResponseMessage Message, JsonElement Body)
{
    public string? MediaType => Message.Content.Headers.ContentType?.MediaType;

    public static async Task<ApiResponse> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return new ApiResponse(response.StatusCode, response, body);
    }
}

internal static class Api
{
    public static async Task<ApiResponse> GetApiAsync(this HttpClient client, string url, CancellationToken ct)
    {
        using var response = await client.GetAsync(url, ct);
        return await ApiResponse.ReadAsync(response, ct);
    }

    public static async Task<ApiResponse> LoginAsync(this HttpClient client, string username, string password, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/auth/login", new { username, password }, ct);
        return await ApiResponse.ReadAsync(response, ct);
    }

    /// <summary>Asserts an RFC 7807 body with the given status, and returns it.</summary>
    public static JsonElement AssertProblem(this ApiResponse response, HttpStatusCode status)
    {
        Assert.Equal(status, response.Status);
        Assert.Equal("application/problem+json", response.MediaType);
        Assert.Equal((int)status, response.Body.GetProperty("status").GetInt32());
        return response.Body;
    }
}
