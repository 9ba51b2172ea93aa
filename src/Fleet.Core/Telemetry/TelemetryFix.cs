namespace Fleet.Core.Telemetry;

/// <summary>
/// One validated position report of terminal protocol v1 (field names follow the JT/T 808 0x0200 report).
/// A value type so that a backlog of 1,000 fixes parses into a pooled buffer without a heap object per fix.
/// Optional fields are NaN / -1 / null-flag when absent rather than <c>Nullable&lt;T&gt;</c>, to keep the struct small.
/// </summary>
public readonly record struct TelemetryFix
{
    /// <summary>Event time, epoch milliseconds UTC.</summary>
    public required long Ts { get; init; }

    /// <summary>Per-terminal sequence number; 0 when the terminal did not send one.</summary>
    public uint Seq { get; init; }

    public required double Lat { get; init; }
    public required double Lon { get; init; }

    /// <summary>Speed in km/h, NaN when absent.</summary>
    public float Spd { get; init; }

    /// <summary>Heading 0–359, -1 when absent.</summary>
    public short Hdg { get; init; }

    /// <summary>Altitude in metres, NaN when absent.</summary>
    public float Alt { get; init; }

    /// <summary>Ignition; null when absent.</summary>
    public bool? Acc { get; init; }

    /// <summary>Odometer in km, NaN when absent.</summary>
    public double Odo { get; init; }

    /// <summary>Fuel level %, NaN when absent.</summary>
    public float Fuel { get; init; }

    /// <summary>State of charge % (new-energy vehicles), NaN when absent.</summary>
    public float Soc { get; init; }

    /// <summary>Satellites in use, -1 when absent.</summary>
    public short Sats { get; init; }

    /// <summary>Horizontal dilution of precision, NaN when absent.</summary>
    public float Hdop { get; init; }

    /// <summary>JT/T 808 alarm bits (0 when absent).</summary>
    public uint Alarm { get; init; }

    /// <summary>Where the free-form <c>obd</c> object sits in the payload (offset, length); default when absent.</summary>
    public Range Obd { get; init; }

    public bool HasObd => !Obd.Equals(default(Range));

    /// <summary>JT/T 808 alarm bit 8: main power cut (主电源掉电).</summary>
    public bool PowerCut => (Alarm & (1u << 8)) != 0;
}
