using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Fleet.Gateway.Broker;

namespace Fleet.Web.Terminals;

/// <summary>What a terminal id may be, and how a terminal's broker password is made.</summary>
public static partial class TerminalRules
{
    public const int PasswordLength = 24;

    /// <summary>Letters and digits without the look-alikes 0/O/o, 1/l/I: the password gets typed into terminal setup tools.</summary>
    public const string PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

    /// <summary>Service users' names start with this; terminal ids never do, so a new service user cannot collide with one.</summary>
    public const string ReservedPrefix = "fleet-";

    public const string IdRule = "1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-': the id is the terminal's MQTT username and a topic level.";

    /// <summary>The CHECK of <c>terminals.id</c> (migration 0001).</summary>
    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    /// <summary>
    /// True when <paramref name="id"/> is, or could become, a broker service user's name. The broker sync leaves such a
    /// terminal out of the password file, so it could never connect: refusing it up front says why.
    /// </summary>
    public static bool IsReserved(string id, BrokerOptions broker) =>
        id.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase)
        || string.Equals(id, broker.GatewayUsername, StringComparison.OrdinalIgnoreCase)
        || string.Equals(id, broker.SimulatorUsername, StringComparison.OrdinalIgnoreCase)
        || string.Equals(id, broker.AdminUsername, StringComparison.OrdinalIgnoreCase);

    /// <summary>About 139 bits from the CSPRNG; the broker's hash is cheap (PBKDF2 with 101 rounds), so the entropy is the defence.</summary>
    public static string NewPassword() => RandomNumberGenerator.GetString(PasswordAlphabet, PasswordLength);

    // \z, not $: .NET's $ also matches before a final newline, which the database's CHECK would refuse.
    [GeneratedRegex(@"^[A-Za-z0-9_.-]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}
