using Fleet.Silo.Grains;

namespace Fleet.Silo.Shards;

/// <summary>
/// An entry of a shard's queue: a report (with its submission) or, rarely, a command. A struct, so queueing a
/// report allocates nothing.
/// </summary>
internal readonly record struct ShardMessage(InboundReport Report, Submission? Submission, ShardCommand? Command)
{
    /// <summary>Wakes the loop for its backlog lane; carries nothing.</summary>
    public static ShardMessage Nudge => default;

    public bool IsNudge => Submission is null && Command is null;
}

/// <summary>Work other than reports that must run inside the shard's loop, because only it may touch its grains.</summary>
internal abstract class ShardCommand() : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
{
    /// <summary>The vehicle that must be active before the command runs, if any.</summary>
    public virtual long? VehicleId => null;
}

/// <summary>The terminal's retained status topic.</summary>
internal sealed class SetOnlineCommand(long vehicleId, bool online, long atMs) : ShardCommand
{
    public override long? VehicleId => vehicleId;

    public bool Online => online;

    public long AtMs => atMs;
}

/// <summary>One sweep over a shard's grains; collects the dirty snapshots when asked to.</summary>
internal sealed class SweepCommand(bool collectSnapshots) : ShardCommand
{
    public bool CollectSnapshots => collectSnapshots;

    public List<(VehicleGrain Grain, StoredSnapshot Snapshot)> Snapshots { get; } = [];
}

/// <summary>Activates a vehicle's grain from its stored snapshot and does nothing else (the restore on start).</summary>
internal sealed class ActivateCommand(long vehicleId) : ShardCommand
{
    public override long? VehicleId => vehicleId;
}
