using Fleet.Core.Telemetry;

namespace Fleet.Silo.Persistence;

/// <summary>
/// One accepted report bound for <c>positions</c>. <see cref="ObdJson"/> is a slice of the received payload
/// (UTF-8 JSON object), valid until the batch that holds it is written.
/// </summary>
public readonly record struct PositionRow(long VehicleId, TelemetryFix Fix, long ReceivedAtMs, ReadOnlyMemory<byte> ObdJson);

/// <summary>What one batch write did: rows stored, and rows that were already there (broker redelivery).</summary>
public readonly record struct PositionWriteResult(int Inserted, int Duplicates);
