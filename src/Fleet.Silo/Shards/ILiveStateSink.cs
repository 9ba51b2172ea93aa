using Fleet.Silo.Grains;

namespace Fleet.Silo.Shards;

/// <summary>
/// Receives the live states that changed, once per shard drain (a batch, newest state per vehicle). Called from
/// the shard loops, concurrently from several shards: implementations must be thread-safe and must not block
/// (hand the states to a queue of their own). The span is only valid during the call; the records may be kept.
/// </summary>
public interface ILiveStateSink
{
    void OnChanged(ReadOnlySpan<VehicleLiveState> states);
}

/// <summary>Discards live frames; the default until the web layer registers its SignalR sink.</summary>
public sealed class NullLiveStateSink : ILiveStateSink
{
    public static readonly NullLiveStateSink Instance = new();

    public void OnChanged(ReadOnlySpan<VehicleLiveState> states)
    {
    }
}
