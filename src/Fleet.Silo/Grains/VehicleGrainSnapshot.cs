using System.Text.Json.Serialization;

namespace Fleet.Silo.Grains;

/// <summary>
/// What <c>vehicle_state.state</c> holds: the live state plus the bookkeeping a re-activated grain needs to
/// carry on exactly where it stopped (duplicate detection, the stop clock, the odometer chain).
/// </summary>
/// <param name="Seq">Sequence number of the newest fix (with <c>State.Ts</c>, the duplicate key).</param>
/// <param name="StoppedSinceMs">Event time the current stop began; -1 while moving.</param>
/// <param name="LastHeardAtMs">Latest report or "online" status, receive time: the offline clock.</param>
/// <param name="LastFixOdo">Odometer of the newest fix; null when that fix had none (then the next delta is by distance).</param>
public sealed record VehicleGrainSnapshot(VehicleLiveState State, uint Seq, long StoppedSinceMs, long LastHeardAtMs, double? LastFixOdo);

// Source-generated: activation and snapshot flushes serialise without reflection.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(VehicleGrainSnapshot))]
internal sealed partial class GrainJsonContext : JsonSerializerContext;
