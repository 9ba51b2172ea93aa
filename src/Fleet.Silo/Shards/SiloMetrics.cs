using System.Diagnostics.Metrics;
using Fleet.Core.Diagnostics;

namespace Fleet.Silo.Shards;

/// <summary>
/// The shard host's instruments. Counts the host already keeps are observed at scrape time, so the hot path pays
/// nothing for them; only the COPY duration is recorded, once per COPY.
/// </summary>
internal static class SiloMetrics
{
    public static Histogram<double> CreateCopyDuration(Meter meter) => meter.CreateHistogram(
        "fleet.copy.duration",
        "s",
        "Time to COPY one batch of positions and commit it",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = FleetMeter.DurationBuckets });

    public static void CreateObservers(Meter meter, ShardHost host, PositionBatcher batcher)
    {
        meter.CreateObservableCounter("fleet.positions.committed", () => batcher.RowsInserted, "{position}", "Positions committed to PostgreSQL");
        meter.CreateObservableCounter("fleet.positions.duplicate", () => batcher.RowsDuplicate, "{position}", "Positions found already stored (redelivered reports), not stored again");
        meter.CreateObservableCounter("fleet.positions.store_refused", () => batcher.RowsStoreRefused, "{position}", "Positions PostgreSQL refused as data; each is recorded in telemetry_rejects as StoreRefused");
        meter.CreateObservableGauge("fleet.shard.queue.depth", () => host.QueueDepth, "{message}", "Messages waiting in the shard queues, over all shards");
        meter.CreateObservableGauge("fleet.store.pending.rows", () => batcher.PendingRows, "{position}", "Positions accepted by the shards and not yet committed");
        meter.CreateObservableGauge("fleet.active.grains", () => host.ActiveGrains, "{grain}", "Vehicle grains currently activated");
    }
}
