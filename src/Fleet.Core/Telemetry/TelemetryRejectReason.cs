namespace Fleet.Core.Telemetry;

/// <summary>Why a report was refused. Stored with every reject, so the names are stable API.</summary>
public enum TelemetryRejectReason : byte
{
    None = 0,
    PayloadTooLarge,
    MalformedJson,
    NotAnObject,
    TooManyReports,
    MissingTimestamp,
    MissingPosition,
    /// <summary>lat/lon not a finite number in range (lat ±90, lon ±180).</summary>
    InvalidPosition,
    TimestampInFuture,
    TimestampTooOld,
    SpeedOutOfRange,
    InvalidField,
    UnknownTerminal,
    TerminalDisabled,
    /// <summary>Accepted, but PostgreSQL refused the row as data (Field holds the SQLSTATE); recorded so it is acknowledged, not redelivered forever.</summary>
    StoreRefused,
}

/// <summary>A refused report: its index in the payload (0 for a single object, -1 for the whole payload).</summary>
public readonly record struct TelemetryReject(int Index, TelemetryRejectReason Reason, string? Field = null);
