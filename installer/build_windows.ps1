# Builds the OrderHub station for Windows: the PyInstaller bundle, a smoke start, then the Inno Setup installer.
#   powershell -ExecutionPolicy Bypass -File installer\build_windows.ps1 [-SkipSmoke] [-SkipInstaller]
# Result: dist\orderhub\ (OrderHubStation.exe, orderhub.exe, _internal\) and dist\OrderHub-Setup-<version>.exe.
# Needs: Python 3.11+ x64 from python.org (the "py" launcher), Inno Setup 6.3+ (winget install JRSoftware.InnoSetup).
# Steps and notes (USB printers, data folder, silent install): installer\README-windows.md.
[CmdletBinding()]
param(
    [string]$Python = "py",
    [string]$PythonVersion = "3.11",
    [switch]$SkipSmoke,
    [switch]$SkipInstaller
)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")

# Native programs do not stop the script when they fail: check each exit code ourselves.
function Invoke-Checked([string]$What, [scriptblock]$Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)" }
}

# 1. A virtual environment with OrderHub and the bundle extra (PyInstaller, libusb-1.0.dll for USB printers).
if (-not (Test-Path ".venv\Scripts\python.exe")) {
    Invoke-Checked "creating .venv" { & $Python "-$PythonVersion" -m venv .venv }
}
$venvPython = (Resolve-Path ".venv\Scripts\python.exe").Path
Invoke-Checked "upgrading pip" { & $venvPython -m pip install --quiet --upgrade pip }
Invoke-Checked "installing OrderHub" { & $venvPython -m pip install --quiet -e ".[bundle]" }

# 2. The bundle (onedir: dist\orderhub). --clean so a stale cache never ships old code.
$started = Get-Date
Invoke-Checked "PyInstaller" {
    & $venvPython -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller installer\orderhub.spec
}
$bundle = Join-Path (Get-Location) "dist\orderhub"
$sizeMb = [math]::Round(((Get-ChildItem $bundle -Recurse -File | Measure-Object Length -Sum).Sum / 1MB), 1)
Write-Host "bundle: $bundle ($sizeMb MB, $([math]::Round(((Get-Date) - $started).TotalSeconds)) s)"

# The Start-menu entry opens the station: `orderhub station` where this version has it, else the demo.
# (Windows PowerShell 5.1 turns a native program's redirected stderr into errors, which "Stop" would throw.)
$ErrorActionPreference = "Continue"
& "$bundle\orderhub.exe" station --help *> $null
$stationCommand = if ($LASTEXITCODE -eq 0) { "station" } else { "demo" }
$ErrorActionPreference = "Stop"

# 3. Smoke start: the bundled station creates its own PostgreSQL in a scratch data folder, seeds the demo,
#    and must reach the sign-in window (ORDERHUB_SMOKE: it saves sign_in.png there and exits 0).
if (-not $SkipSmoke) {
    $scratch = Join-Path $env:TEMP ("orderhub-smoke-" + [guid]::NewGuid().ToString("N"))
    $env:ORDERHUB_DATA_DIR = Join-Path $scratch "data"
    $env:ORDERHUB_CONFIG = Join-Path $scratch "no-config.toml"
    $env:QT_QPA_PLATFORM = "offscreen"
    try {
        Invoke-Checked "seeding the demo with the bundle" { & "$bundle\orderhub.exe" demo --no-gui --orders 200 }
        $env:ORDERHUB_SMOKE = Join-Path $scratch "shots"
        $output = & "$bundle\orderhub.exe" demo
        if ($LASTEXITCODE -ne 0 -or -not ($output -match "^ORDERHUB_SMOKE sign-in shown: ")) {
            throw "the bundled station did not reach its sign-in window:`n$($output -join "`n")"
        }
        Write-Host "smoke: sign-in window reached; picture in $env:ORDERHUB_SMOKE\sign_in.png"
    } finally {
        foreach ($name in "ORDERHUB_DATA_DIR", "ORDERHUB_CONFIG", "ORDERHUB_SMOKE", "QT_QPA_PLATFORM") {
            Remove-Item "Env:$name" -ErrorAction SilentlyContinue
        }
    }
}

# 4. The installer (Start-menu entry, optional desktop icon, uninstaller).
if (-not $SkipInstaller) {
    $iscc = @(
        (Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:ProgramFiles "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:LOCALAPPDATA "Programs\Inno Setup 6\ISCC.exe")
    ) | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $iscc) { throw "Inno Setup 6 not found: winget install JRSoftware.InnoSetup (or -SkipInstaller)" }
    $version = & $venvPython -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])"
    Invoke-Checked "Inno Setup" { & $iscc "/DAppVersion=$version" "/DStationCommand=$stationCommand" installer\orderhub.iss }
    Write-Host "installer: dist\OrderHub-Setup-$version.exe"
}
