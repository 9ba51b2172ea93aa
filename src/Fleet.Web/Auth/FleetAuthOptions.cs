using System.ComponentModel.DataAnnotations;

namespace Fleet.Web.Auth;

/// <summary>Bound from <c>Fleet:Auth</c>.</summary>
public sealed class FleetAuthOptions
{
    public const string Section = "Fleet:Auth";

    /// <summary>Consecutive wrong passwords that lock an account.</summary>
    [Range(1, 100)]
    public int MaxFailedLogins { get; set; } = 5;

    [Range(1, 24 * 60)]
    public int LockoutMinutes { get; set; } = 15;

    /// <summary>Login attempts per client IP per minute, whatever the username (slows password spraying).</summary>
    [Range(1, 10_000)]
    public int LoginPermitsPerMinute { get; set; } = 10;

    /// <summary>Idle time after which the session cookie expires (sliding).</summary>
    [Range(1, 7 * 24)]
    public int SessionHours { get; set; } = 8;
}
