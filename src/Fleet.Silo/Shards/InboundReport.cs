using Fleet.Core.Telemetry;

namespace Fleet.Silo.Shards;

/// <summary>
/// One validated report on its way from the gateway to its vehicle's shard. <see cref="ObdJson"/> is a slice of
/// the received payload (the UTF-8 <c>obd</c> object, or empty); the caller keeps that buffer alive until the
/// submission's commit task has completed.
/// </summary>
public readonly record struct InboundReport(long VehicleId, TelemetryFix Fix, long ReceivedAtMs, ReadOnlyMemory<byte> ObdJson);
