using Microsoft.Extensions.Options;

namespace Fleet.Web.Live;

/// <summary>Bound from <c>Fleet:Live</c>; validated on start.</summary>
public sealed record LiveOptions
{
    public const string Section = "Fleet:Live";

    /// <summary>
    /// The shortest time between two frames to one connection; changes in between are coalesced. Waiting for the next
    /// frame is most of a report's way to the map (half the interval on average), and a frame carries each changed
    /// vehicle once, so a shorter interval costs little while vehicles report less often than frames go out.
    /// </summary>
    public TimeSpan FrameInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a round of frames may take to be written before the next round starts regardless: one slow client
    /// must not hold back everyone's map. Its frames queue in its own connection until SignalR drops it.
    /// </summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long <c>Subscribe</c> waits for the first registry load after a start.</summary>
    public TimeSpan RegistryWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the subscribers' sessions are rechecked against <c>users</c> (enabled, role, department), as REST
    /// does on every request. Bounds how long a disabled, demoted or moved user's open map keeps its old scope.
    /// </summary>
    public TimeSpan SessionRecheckInterval { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed class LiveOptionsValidator : IValidateOptions<LiveOptions>
{
    public ValidateOptionsResult Validate(string? name, LiveOptions options)
    {
        var failures = new List<string>();
        Check(failures, nameof(options.FrameInterval), options.FrameInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(10));
        Check(failures, nameof(options.SendTimeout), options.SendTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Check(failures, nameof(options.RegistryWait), options.RegistryWait, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        // Capped: the recheck is what ends a revoked session's live feed, so it must not be configurable away.
        Check(failures, nameof(options.SessionRecheckInterval), options.SessionRecheckInterval, TimeSpan.FromMilliseconds(200), TimeSpan.FromMinutes(5));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{LiveOptions.Section}:{name} must be between {min} and {max}, got {value}.");
        }
    }
}
