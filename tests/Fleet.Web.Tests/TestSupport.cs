using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Web.Vehicles;

namespace Fleet.Web.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
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
