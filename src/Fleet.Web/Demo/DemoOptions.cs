using System.ComponentModel.DataAnnotations;

namespace Fleet.Web.Demo;

/// <summary>Bound from <c>Fleet:Demo</c>. Off unless set: a production host never invents vehicles.</summary>
public sealed class DemoOptions
{
    public const string Section = "Fleet:Demo";

    /// <summary>Vehicles to seed on first start when the registry is empty; 0 seeds nothing.</summary>
    [Range(0, 100_000)]
    public int SeedVehicles { get; set; }

    /// <summary>Fixes the generated registry, so the same seed gives the same plates and logins.</summary>
    public int Seed { get; set; } = 20261122;

    /// <summary>Where the demo logins and terminal credentials are written after seeding.</summary>
    public string? CredentialsFile { get; set; }
}
