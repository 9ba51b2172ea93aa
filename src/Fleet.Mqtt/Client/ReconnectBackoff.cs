namespace Fleet.Mqtt.Client;

/// <summary>Exponential reconnect delay with jitter, so a fleet of clients does not reconnect in lockstep.</summary>
internal static class ReconnectBackoff
{
    public static TimeSpan Compute(int attempt, TimeSpan minimum, TimeSpan maximum, double jitter, double random01)
    {
        var baseTicks = minimum.Ticks * Math.Pow(2, Math.Min(attempt, 30));
        var capped = Math.Min(baseTicks, maximum.Ticks);
        var factor = 1 + (jitter * ((random01 * 2) - 1));
        var ticks = (long)Math.Clamp(capped * factor, 0, maximum.Ticks);
        return TimeSpan.FromTicks(ticks);
    }
}
